//! The login page (`GET /view/login`): `form#login` with `input#token` (a password field: the
//! API token is the credential). A failed login shows the reason in `#login-error`.

use crate::html::{escape, notice};
use crate::layout::{Section, page as frame};

/// The login page, with the reason of a failed attempt if there was one.
pub fn page(problem: Option<&str>) -> String {
    let problem = problem.map_or(String::new(), |p| {
        format!(
            "<div id=\"login-error\">{}</div>",
            notice("error", &format!("<p>{}</p>", escape(p)))
        )
    });
    let main = format!(
        "<div class=\"login\"><h1>Sign in</h1>\
         <p class=\"lead\">The readiness view of your eCoC submissions. Sign in with an API token of your tenant: its role decides what you may do here, as in the API.</p>\
         {problem}\
         <section class=\"panel\" aria-labelledby=\"login-heading\"><h2 id=\"login-heading\" class=\"visually-hidden\">API token</h2>\
         <form id=\"login\" method=\"post\" action=\"/view/login\">\
         <label for=\"token\">API token <span class=\"hint\">Starts with <code>ecoc_</code>. A primary user issues tokens under Tenant.</span></label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" spellcheck=\"false\" required>\
         <div class=\"actions\"><button type=\"submit\" class=\"btn\">Sign in</button></div>\
         </form></section></div>"
    );
    frame("Sign in", Section::Other, None, &main)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_has_a_labelled_password_field_and_shows_the_reason() {
        let html = page(None);
        assert!(html.contains("<form id=\"login\" method=\"post\" action=\"/view/login\">"));
        assert!(html.contains("<input id=\"token\" name=\"token\" type=\"password\""));
        assert!(html.contains("<label for=\"token\">"));
        assert!(!html.contains("id=\"login-error\""));
        let refused = page(Some("unknown or revoked token <x>"));
        assert!(refused.contains("id=\"login-error\""));
        assert!(refused.contains("unknown or revoked token &lt;x&gt;"));
    }
}
