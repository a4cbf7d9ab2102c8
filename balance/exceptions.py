"""Domain errors of money movements."""

from lighTech.errors import ApplicationError


class InsufficientFunds(ApplicationError):
    """The balance is smaller than the amount to take out."""

    code = "insufficient_funds"
    default_detail = "Insufficient funds for this operation."
    attr = "amount"


class SelfTransfer(ApplicationError):
    """The recipient is the sender."""

    code = "self_transfer"
    default_detail = "You cannot transfer money to yourself."
    attr = "recipient"


class RecipientNotFound(ApplicationError):
    """No active user has the recipient's username."""

    status_code = 404
    code = "recipient_not_found"
    default_detail = "No active user with that username."
    attr = "recipient"


class BalanceLimitExceeded(ApplicationError):
    """The resulting balance would not fit the money column."""

    code = "balance_limit_exceeded"
    default_detail = "The resulting balance would exceed the maximum balance allowed."
    attr = "amount"
