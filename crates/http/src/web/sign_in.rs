//! Signing in and out of a set of pages. The sign-in form has a CSRF token
//! of its own, made from a random cookie set with the form, so that no
//! other site can sign a browser in to an account of its choosing. The
//! engine decides (password, second factor, lock); this is the form.

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use kassa_engine::secrets::random_token;
use kassa_engine::web::SignIn;
use maud::html;
use serde::Deserialize;

use super::format::time;
use super::session::{clear_cookie, cookie_value, read_form, set_cookie, CSRF_FIELD};
use super::words::{self, Words};
use super::{page, Lang, Realm, Signed, WebError};
use crate::AppState;

/// The sign-in form's cookie lives as long as one sitting at the form.
const FORM_COOKIE_SECS: i64 = 3600;

/// The sign-in of one realm's pages.
pub struct SignInPage {
    pub realm: Realm,
    /// The form's heading: whose pages these are.
    pub title: Words,
}

#[derive(Deserialize)]
pub struct NextQuery {
    pub next: Option<String>,
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    code: Option<String>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct Empty {}

impl SignInPage {
    fn form_cookie(&self) -> String {
        format!("{}_signin", self.realm.cookie)
    }

    /// Only a page of these pages themselves: never another site.
    fn safe_next<'a>(&self, next: Option<&'a str>) -> &'a str {
        let path = self.realm.path;
        match next {
            Some(n)
                if n.len() > path.len()
                    && n.starts_with(path)
                    && n[path.len()..].starts_with('/')
                    && !n.starts_with("//")
                    && !n.contains('\\') =>
            {
                n
            }
            _ => path,
        }
    }

    fn render(
        &self,
        app: &AppState,
        lang: Lang,
        status: StatusCode,
        next: &str,
        email: &str,
        problem: Option<String>,
    ) -> Response {
        let form_token = random_token();
        let csrf = app.engine.csrf_token(&form_token);
        let body = page(
            lang,
            lang.t(words::SIGN_IN),
            html! {},
            html! {
                div.card.narrow {
                    h1 { (lang.t(self.title)) }
                    @if let Some(p) = problem { p.error #problem { (p) } }
                    form method="post" action={ (self.realm.path) "/sign-in" } {
                        input type="hidden" name=(CSRF_FIELD) value=(csrf);
                        input type="hidden" name="next" value=(next);
                        div { label for="email" { (lang.t(words::EMAIL)) }
                            input #email type="email" name="email" value=(email) autocomplete="username" required; }
                        div { label for="password" { (lang.t(words::PASSWORD)) }
                            input #password type="password" name="password" autocomplete="current-password" required; }
                        div { label for="code" { (lang.t(words::CODE)) }
                            input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*"; }
                        button.btn #submit type="submit" { (lang.t(words::SIGN_IN)) }
                    }
                }
            },
        );
        let mut response = (status, Html(body.into_string())).into_response();
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(
                app,
                &self.realm,
                &self.form_cookie(),
                &form_token,
                Some(FORM_COOKIE_SECS),
            ),
        );
        response
    }

    /// The form, with a fresh form cookie.
    pub fn form(&self, app: &AppState, lang: Lang, next: Option<&str>) -> Response {
        self.render(app, lang, StatusCode::OK, self.safe_next(next), "", None)
    }

    /// A filled-in form: signed in and sent on, or the form again with why not.
    pub async fn submit(
        &self,
        app: &AppState,
        lang: Lang,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Response, WebError> {
        let form_token = cookie_value(headers, &self.form_cookie());
        let f: SignInForm = read_form(app, form_token.as_deref(), body, lang).await?;
        let next = self.safe_next(f.next.as_deref()).to_string();
        let code = f.code.filter(|c| !c.trim().is_empty());
        let outcome = app
            .engine
            .sign_in(self.realm.realm, &f.email, f.password, code)
            .await
            .map_err(|e| WebError::from_engine(&e, lang))?;
        let again =
            |status, problem| self.render(app, lang, status, &next, &f.email, Some(problem));
        match outcome {
            SignIn::SignedIn { token, .. } => {
                let mut response = Redirect::to(&next).into_response();
                let h = response.headers_mut();
                // A session cookie: gone when the browser closes, and the
                // store ends it sooner when it is idle or old.
                h.append(
                    header::SET_COOKIE,
                    set_cookie(app, &self.realm, self.realm.cookie, &token, None),
                );
                h.append(
                    header::SET_COOKIE,
                    clear_cookie(app, &self.realm, &self.form_cookie()),
                );
                Ok(response)
            }
            SignIn::Refused => Ok(again(
                StatusCode::UNAUTHORIZED,
                lang.t(words::REFUSED).to_string(),
            )),
            SignIn::Locked { until_secs } => Ok(again(
                StatusCode::TOO_MANY_REQUESTS,
                format!("{} {}.", lang.t(words::LOCKED), time(until_secs)),
            )),
        }
    }

    /// Ends the session (a form with its token) and clears the cookie.
    pub async fn sign_out(
        &self,
        app: &AppState,
        signed: &Signed,
        lang: Lang,
        body: Body,
    ) -> Result<Response, WebError> {
        let _: Empty = read_form(app, Some(&signed.token), body, lang).await?;
        app.engine
            .sign_out(&signed.token)
            .await
            .map_err(|e| WebError::from_engine(&e, lang))?;
        let mut response = Redirect::to(&format!("{}/sign-in", self.realm.path)).into_response();
        response.headers_mut().append(
            header::SET_COOKIE,
            clear_cookie(app, &self.realm, self.realm.cookie),
        );
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kassa_domain::WebRealm;

    #[test]
    fn only_pages_of_the_realm_are_next() {
        let p = SignInPage {
            realm: Realm {
                realm: WebRealm::Trader,
                cookie: "c",
                path: "/trader",
            },
            title: words::SIGN_IN,
        };
        assert_eq!(p.safe_next(Some("/trader/deals")), "/trader/deals");
        for bad in [
            None,
            Some("/traders/x"),
            Some("/trader"),
            Some("//evil.example/trader/"),
            Some("https://evil.example/trader/"),
            Some("/trader/\\evil"),
            Some("/portal/test/invoices"),
        ] {
            assert_eq!(p.safe_next(bad), "/trader", "{bad:?}");
        }
    }
}
