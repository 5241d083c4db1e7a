//! Pure decisions about tokens: when to refresh, when only the user can help.

/// What the credential store keeps for an OAuth2 account, as JSON. The access token is
/// kept too, so that a process that starts (the CLI, an app woken for a sync) does not ask
/// the provider for a new one each time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tokens {
    /// `None` once the provider refused it: the user must sign in again.
    pub refresh_token: Option<String>,
    pub access_token: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; `None` when the provider did not say.
    pub expires_at: Option<i64>,
}

impl Tokens {
    pub fn parse(stored: &str) -> Option<Self> {
        serde_json::from_str(stored).ok()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The state after the provider refused the refresh token: nothing left to try.
    pub fn revoked(&self) -> Self {
        Self {
            refresh_token: None,
            access_token: String::new(),
            issued_at: self.issued_at,
            expires_at: Some(0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStep {
    /// The stored access token.
    Use,
    /// Ask the token endpoint for a new access token with the refresh token.
    Refresh,
    /// Nothing the engine can do: the user signs in again.
    SignInAgain,
}

/// The margin before expiry in which a token is no longer used: a minute, or a quarter of
/// a shorter lifetime, so that a login does not start with a token about to lapse.
fn margin(tokens: &Tokens) -> i64 {
    tokens
        .expires_at
        .map(|expires| ((expires - tokens.issued_at) / 4).clamp(0, 60))
        .unwrap_or(0)
}

/// What to log in with at `now`. `refused` is the access token a server just refused, if
/// one did: when the stored token is still that one it is not tried again (a refresh is,
/// once); when it differs, another login refreshed it meanwhile and it is used.
pub fn token_step(now: i64, tokens: &Tokens, refused: Option<&str>) -> TokenStep {
    let can_refresh = tokens.refresh_token.is_some();
    let fresh = !tokens.access_token.is_empty()
        && tokens
            .expires_at
            .is_none_or(|expires| now + margin(tokens) < expires);
    let refused_this = refused == Some(tokens.access_token.as_str());
    match (fresh && !refused_this, can_refresh) {
        (true, _) => TokenStep::Use,
        (false, true) => TokenStep::Refresh,
        (false, false) => TokenStep::SignInAgain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(refresh: bool, access: &str, issued: i64, expires: Option<i64>) -> Tokens {
        Tokens {
            refresh_token: refresh.then(|| "r".to_owned()),
            access_token: access.to_owned(),
            issued_at: issued,
            expires_at: expires,
        }
    }

    #[test]
    fn token_steps() {
        use TokenStep::*;
        let hour = Some(3600);
        let cases: &[(&str, i64, Tokens, Option<&str>, TokenStep)] = &[
            ("fresh", 10, tokens(true, "a", 0, hour), None, Use),
            (
                "within the minute before expiry",
                3541,
                tokens(true, "a", 0, hour),
                None,
                Refresh,
            ),
            (
                "just outside the margin",
                3539,
                tokens(true, "a", 0, hour),
                None,
                Use,
            ),
            ("expired", 4000, tokens(true, "a", 0, hour), None, Refresh),
            (
                "expired, no refresh token",
                4000,
                tokens(false, "a", 0, hour),
                None,
                SignInAgain,
            ),
            (
                "short lifetime: a quarter as margin",
                3,
                tokens(true, "a", 0, Some(8)),
                None,
                Use,
            ),
            (
                "short lifetime, in its margin",
                7,
                tokens(true, "a", 0, Some(8)),
                None,
                Refresh,
            ),
            (
                "no expiry given",
                99_999,
                tokens(true, "a", 0, None),
                None,
                Use,
            ),
            (
                "refused: refresh once",
                10,
                tokens(true, "a", 0, hour),
                Some("a"),
                Refresh,
            ),
            (
                "refused, nothing to refresh with",
                10,
                tokens(false, "a", 0, hour),
                Some("a"),
                SignInAgain,
            ),
            (
                "refused an older token: another login refreshed",
                10,
                tokens(true, "b", 0, hour),
                Some("a"),
                Use,
            ),
            (
                "revoked",
                10,
                tokens(true, "a", 0, hour).revoked(),
                None,
                SignInAgain,
            ),
            (
                "no access token yet",
                10,
                tokens(true, "", 0, hour),
                None,
                Refresh,
            ),
        ];
        for (what, now, tokens, refused, step) in cases {
            assert_eq!(token_step(*now, tokens, *refused), *step, "{what}");
        }
    }

    #[test]
    fn stored_tokens_round_trip_and_garbage_is_none() {
        let t = tokens(true, "a", 1, Some(2));
        assert_eq!(Tokens::parse(&t.to_json()), Some(t));
        assert_eq!(Tokens::parse("a password"), None);
    }
}
