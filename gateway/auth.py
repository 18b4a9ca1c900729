"""Bearer JWT → Principal.

Development signs with HS256 and a shared secret; production verifies RS256 with a public key
only. No token means anonymous. A token that is present but bad (expired, malformed, wrong
signature, unknown role, missing subject, a subject that is not canonical, a time claim that is
not a number) is refused with 401 and a message saying which."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import jwt

from gateway.settings import Settings
from privacy.principal import ANONYMOUS, InvalidSubject, Principal, Role

_CACHE_SIZE = 10_000
_TOKEN_ROLES = {r.value: r for r in Role if r is not Role.ANONYMOUS}


class AuthError(Exception):
    """A bad credential; `message` is safe to return to the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Verifier:
    key: str
    algorithm: str
    issuer: str | None
    audience: str | None
    leeway: int
    # Verified tokens -> (principal, expiry): a client sends the same token on every request,
    # and signature checking is most of the per-request auth cost. Bounded; expiry is checked
    # again on every hit, so a cached token stops working when it expires.
    _verified: dict[str, tuple[Principal, float]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Verifier:
        public_key = settings.public_key()
        if public_key:
            return cls(public_key, "RS256", settings.jwt_issuer, settings.jwt_audience, settings.jwt_leeway_s)
        return cls(
            settings.signing_secret(),
            "HS256",
            settings.jwt_issuer,
            settings.jwt_audience,
            settings.jwt_leeway_s,
        )

    def principal(self, authorization: str | None) -> Principal:
        if authorization is None or not authorization.strip():
            return ANONYMOUS
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("Authorization header must be 'Bearer <token>'")
        token = token.strip()
        hit = self._verified.get(token)
        if hit is not None:
            if time.time() < hit[1] + self.leeway:
                return hit[0]
            del self._verified[token]
        principal, expires = self._verify(token)
        if len(self._verified) >= _CACHE_SIZE:
            self._verified.clear()  # crude but bounded; refills with the tokens in use
        self._verified[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[self.algorithm],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": ["exp", "sub", "role"], "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.InvalidSignatureError:
            raise AuthError("token signature is invalid") from None
        except jwt.InvalidAlgorithmError:
            raise AuthError(f"token must be signed with {self.algorithm}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token lacks the '{exc.claim}' claim") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token issuer is not accepted") from None
        except jwt.InvalidAudienceError:
            raise AuthError("token audience is not accepted") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token is not valid yet") from None
        except jwt.DecodeError:
            raise AuthError("token is malformed") from None
        except jwt.InvalidTokenError:
            raise AuthError("token is invalid") from None
        # PyJWT reads a string `exp` ("9999999999") through int(): a NumericDate is a number.
        for claim in ("exp", "nbf", "iat"):
            value = claims.get(claim)
            if claim in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise AuthError(f"token '{claim}' must be a number (seconds since the epoch)")
        role = _TOKEN_ROLES.get(claims["role"]) if isinstance(claims["role"], str) else None
        if role is None:
            raise AuthError(f"token role must be one of: {', '.join(sorted(_TOKEN_ROLES))}")
        subject = claims["sub"]
        if not isinstance(subject, str):
            raise AuthError("token subject must be a string")
        try:
            principal = Principal(role, subject)
        except InvalidSubject as exc:
            raise AuthError(f"token subject refused: {exc}") from None
        return principal, float(min(claims["exp"], 2**53))  # an int of 400 digits overflows float()


def issue_token(
    settings: Settings, role: Role, subject: str, ttl_s: int = 3600, private_key: str | None = None
) -> str:
    """Sign a token for development and tests (RS256 when given a private key)."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": subject, "role": role.value, "iat": now, "exp": now + ttl_s}
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if private_key is not None:
        return jwt.encode(claims, private_key, algorithm="RS256")
    return jwt.encode(claims, settings.signing_secret(), algorithm="HS256")
