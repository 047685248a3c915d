//! An error page: the API's (or the view's) status and message, its field errors if any, in
//! `#error`. The view answers with the same status code.

use crate::html::escape;
use crate::layout::{Section, page as frame};
use crate::{ApiError, Who};

/// What a status means to the person reading the page.
fn title(status: u16) -> &'static str {
    match status {
        400 => "The request cannot be read",
        401 => "Sign in again",
        403 => "Not allowed",
        404 => "Not found",
        405 => "Not available here",
        409 => "Not possible now",
        413 => "Too large",
        415 => "Not accepted",
        422 => "Refused",
        502 => "A remote service failed",
        503 => "Not configured",
        504 => "Took too long",
        _ => "Something went wrong",
    }
}

/// The page for `error`, for `who` when someone is signed in.
pub fn page(who: Option<&Who>, error: &ApiError) -> String {
    let t = title(error.status);
    let mut main = format!(
        "<section id=\"error\" class=\"panel\" aria-labelledby=\"error-heading\">\
         <h1 id=\"error-heading\">{t} <span class=\"muted\">({})</span></h1>\
         <p id=\"error-message\">{}</p>",
        error.status,
        escape(&error.message)
    );
    if !error.errors.is_empty() {
        let rows: Vec<(&str, &crate::Finding)> = error.errors.iter().map(|f| ("", f)).collect();
        main.push_str(&super::findings_table(
            "error-findings",
            "What was refused",
            &rows,
        ));
    }
    main.push_str("<p><a href=\"/view/\">Back to today</a> · <a href=\"/view/submissions\">Submissions</a></p></section>");
    frame(t, Section::Other, who, &main)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::who;

    #[test]
    fn shows_the_status_and_the_api_s_message_escaped() {
        let e = ApiError::from_answer(
            403,
            br#"{"error":"forbidden","message":"the role `view` of token `v<script>` may not manage"}"#,
        );
        let html = page(Some(&who("view")), &e);
        assert!(html.contains("Not allowed <span class=\"muted\">(403)</span>"));
        assert!(html.contains("token `v&lt;script&gt;` may not manage"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("id=\"error\""));
    }
}
