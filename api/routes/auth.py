from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import ContainerDep
from api.rate_limits import RateLimits, client_address
from api.responses import errors
from api.security import TOKEN_URL
from domain.errors import InvalidCredentials
from domain.schemas import MAX_EMAIL_LENGTH, MAX_PASSWORD_LENGTH, AccessTokenView

router = APIRouter(tags=["auth"])


def get_rate_limits(request: Request) -> RateLimits:
    return request.app.state.rate_limits


RateLimitsDep = Annotated[RateLimits, Depends(get_rate_limits)]


@router.post(TOKEN_URL, response_model=AccessTokenView, responses=errors(401, 413, 422, 429))
def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    response: Response,
    container: ContainerDep,
    rate_limits: RateLimitsDep,
) -> AccessTokenView:
    """Log in with the OAuth 2.0 password flow: form fields `username` (the email) and `password`.

    An unknown email, a wrong password and a disabled user all get the same 401.
    """
    account = form.username.strip().lower()
    address = client_address(request)
    rate_limits.check_login(account, address)

    try:
        if len(account) > MAX_EMAIL_LENGTH or len(form.password) > MAX_PASSWORD_LENGTH:
            raise InvalidCredentials()
        user = container.users.authenticate(account, form.password)
    except InvalidCredentials:
        rate_limits.record_failed_login(account, address)
        raise

    token = container.tokens.issue(user.id)
    # RFC 6749, 5.1: a token response must not be cached.
    response.headers["Cache-Control"] = "no-store"
    return AccessTokenView(access_token=token.token, token_type="bearer", expires_in=token.expires_in_s)
