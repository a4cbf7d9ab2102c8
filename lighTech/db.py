"""Server-side prepared statements for the hot SQL: parsed and planned once per connection."""

import re
from dataclasses import dataclass, field

_PARAMETER = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class PreparedStatement:
    """A PostgreSQL statement with %(name)s parameters, prepared on first use per connection.

    Planning the one-statement transfer took as much PostgreSQL CPU as running it
    (docs/performance.md); a prepared statement is planned once per connection, and after five
    runs PostgreSQL keeps a generic plan. `types` gives each parameter's SQL type, so that
    PostgreSQL never has to guess it from the context.
    PREPARE is not undone by a rollback, so a statement counts as prepared once PREPARE
    succeeded on this very connection; a new connection (after a restart, say) prepares again.
    """

    name: str
    sql: str
    types: dict[str, str]
    names: tuple[str, ...] = field(init=False)
    prepare_sql: str = field(init=False)
    execute_sql: str = field(init=False)

    def __post_init__(self) -> None:
        order = list(dict.fromkeys(_PARAMETER.findall(self.sql)))
        if set(order) != set(self.types):
            raise ValueError(f"{self.name}: parameters {order} but types for {list(self.types)}")
        numbered = _PARAMETER.sub(lambda m: f"${order.index(m.group(1)) + 1}", self.sql)
        types = ", ".join(self.types[name] for name in order)
        placeholders = ", ".join(["%s"] * len(order))
        object.__setattr__(self, "names", tuple(order))
        object.__setattr__(self, "prepare_sql", f"PREPARE {self.name} ({types}) AS {numbered}")
        object.__setattr__(self, "execute_sql", f"EXECUTE {self.name} ({placeholders})")

    def execute(self, cursor, params: dict) -> None:
        """Run the statement on this Django cursor, preparing it first if the connection is new."""
        wrapper = cursor.db
        raw = wrapper.connection
        state = getattr(wrapper, "_prepared_statements", None)
        if state is None or state[0] is not raw:
            state = (raw, set())
            wrapper._prepared_statements = state
        if self.name not in state[1]:
            cursor.execute(self.prepare_sql)
            state[1].add(self.name)
        cursor.execute(self.execute_sql, [params[name] for name in self.names])
