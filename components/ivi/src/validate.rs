//! XSD validation.
