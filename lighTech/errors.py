"""The one base class for domain errors; the exception handler maps them to the API envelope."""


class ApplicationError(Exception):
    """A business rule refused the request; carries a stable code and an HTTP status."""

    status_code = 400
    code = "application_error"
    default_detail = "The request could not be completed."
    attr: str | None = None
    # True when the error is about one input field: answered as a `validation_error`.
    field_error = False

    def __init__(self, detail: str | None = None, *, attr: str | None = None) -> None:
        self.detail = detail or self.default_detail
        if attr is not None:
            self.attr = attr
        super().__init__(self.detail)
