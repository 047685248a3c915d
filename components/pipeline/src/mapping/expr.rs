//! jq expressions in a mapping, run by jaq (a jq interpreter in pure Rust that builds for
//! wasm32-wasip2). An expression is compiled once per mapping and run once per field and record.
//!
//! Each expression sees the current value as `.` (the record, or the item of the enclosing `each`),
//! the whole ERP record as `$record`, and the mapping's `variables` (each computed once per record)
//! as `$name`. Numbers keep their JSON text (`11.99` stays `11.99`, not a float) until arithmetic
//! turns them into floats.

use std::rc::Rc;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Exn, Vars, data};
use jaq_json::{Num, Val};
use serde_json::{Map, Number, Value};

/// Longest expression accepted, in characters.
pub const MAX_EXPRESSION_CHARS: usize = 4096;
/// Most values one expression may yield before it is stopped (`each` takes them all).
pub const MAX_OUTPUTS: usize = 10_000;
/// Deepest nesting of brackets in an expression (the parser recurses on each).
pub const MAX_NESTING: usize = 64;

type Data = data::JustLut<Val>;

/// jq natives a mapping cannot call: the process environment is outside the record.
const WITHHELD: [&str; 1] = ["env"];

/// Put before every expression: what jq would write to the log (where ERP data does not belong), or
/// do to the process, does nothing here or fails with a reason.
const SHADOWS: &str = "def debug: .; def debug(msgs): .; def stderr: .; \
    def halt: error(\"halt is not available in a mapping\"); def halt($code): halt; \
    def halt_error: halt; def halt_error($code): halt;";

/// Expressions compiled together as one jq program: jaq parses and compiles its standard library
/// once per program, which is most of what compiling costs (about a millisecond), so a mapping's
/// expressions are compiled once, together, and each is one `def` of the program, chosen at run
/// time by the global `$__ecoc`.
pub struct Program {
    codes: Vec<String>,
    filter: jaq_core::Filter<Data>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("codes", &self.codes)
            .finish()
    }
}

/// One compiled jq expression (of a [`Program`]).
#[derive(Debug, Clone)]
pub struct Expr {
    program: Rc<Program>,
    index: usize,
}

/// The global that picks an expression of a program.
const DISPATCH: &str = "$__ecoc";

/// `if $__ecoc < m then ... else ... end` down to `__ecoc_i`: a binary choice among `range`.
fn dispatch(range: std::ops::Range<usize>) -> String {
    if range.len() <= 1 {
        return format!("__ecoc_{}", range.start);
    }
    let mid = range.start + range.len() / 2;
    format!(
        "if {DISPATCH} < {mid} then {} else {} end",
        dispatch(range.start..mid),
        dispatch(mid..range.end)
    )
}

impl Program {
    /// Compiles `codes` together after the mapping's `definitions`, with its `variables` named.
    /// Each code should have been checked on its own ([`Expr::compile`]), which says where a
    /// mistake is; this error names only the first code that fails.
    pub fn compile(
        definitions: &str,
        variables: &[&str],
        codes: &[&str],
    ) -> Result<Rc<Self>, String> {
        for code in codes {
            check_bounds(definitions, code)?;
        }
        // A newline before each `;`: a `#` comment in a code must not swallow it.
        let body: String = codes
            .iter()
            .enumerate()
            .map(|(i, code)| format!("def __ecoc_{i}: {code}\n;\n"))
            .chain(std::iter::once(dispatch(0..codes.len().max(1))))
            .collect();
        let body = if codes.is_empty() {
            ".".to_owned()
        } else {
            body
        };
        let filter = build(definitions, variables, &body)?;
        Ok(Rc::new(Self {
            codes: codes.iter().map(|c| (*c).to_owned()).collect(),
            filter,
        }))
    }

    /// The program's expressions, in the order of their codes.
    pub fn exprs(self: &Rc<Self>) -> Vec<Expr> {
        (0..self.codes.len())
            .map(|index| Expr {
                program: Rc::clone(self),
                index,
            })
            .collect()
    }
}

/// The length and nesting limits, before jaq's recursive parser sees the text.
fn check_bounds(definitions: &str, code: &str) -> Result<(), String> {
    if code.chars().count() + definitions.chars().count() > MAX_EXPRESSION_CHARS {
        return Err(format!(
            "the expression and the definitions are longer than {MAX_EXPRESSION_CHARS} characters"
        ));
    }
    if nesting(definitions).max(nesting(code)) > MAX_NESTING {
        return Err(format!(
            "brackets nest deeper than {MAX_NESTING}: split the expression into definitions"
        ));
    }
    Ok(())
}

/// A record converted once for every expression that reads `$record`.
#[derive(Debug, Clone)]
pub struct Input(Val);

impl Input {
    /// Converts an ERP record (or an array item) for jq.
    pub fn new(value: &Value) -> Self {
        Self(to_val(value))
    }
}

/// What every expression of one record sees besides `.`: `$record`, then the mapping's variables
/// in the order [`Expr::compile`] was given their names.
#[derive(Debug, Clone)]
pub struct Globals(Vec<Val>);

impl Globals {
    /// `$record` alone (for the variables' own expressions).
    pub fn record(record: &Input) -> Self {
        Self(vec![record.0.clone()])
    }

    /// Adds the next variable's value (the first value its expression yielded, or null).
    pub fn push(&mut self, value: Option<Value>) {
        self.0.push(value.as_ref().map_or(Val::Null, to_val));
    }

    /// `$__ecoc` (which expression), then `$record` and the variables, in the order
    /// `Compiler::with_global_vars` was given their names (`variables_are_named_in_order`).
    fn vars(&self, index: usize) -> Vars<Val> {
        Vars::new(std::iter::once(Val::from(index)).chain(self.0.iter().cloned()))
    }
}

impl Expr {
    /// Parses and compiles `code` after the mapping's `definitions`, with the mapping's variables
    /// named (`ch` for `$ch`); the error says what jq expected and where (counted in `code`, or in
    /// the definitions).
    pub fn compile(definitions: &str, variables: &[&str], code: &str) -> Result<Self, String> {
        check_bounds(definitions, code)?;
        let filter = build(definitions, variables, code)?;
        let program = Rc::new(Program {
            codes: vec![code.to_owned()],
            filter,
        });
        Ok(Self { program, index: 0 })
    }

    /// The expression's text.
    pub fn code(&self) -> &str {
        &self.program.codes[self.index]
    }

    /// Every value the expression yields for `item` (with `$record` bound to `record`), nulls
    /// included; a jq error is returned as its message.
    pub fn run(&self, item: &Input, globals: &Globals) -> Result<Vec<Value>, String> {
        let filter = &self.program.filter;
        let ctx = Ctx::<Data>::new(&filter.lut, globals.vars(self.index));
        let mut values = Vec::new();
        for out in filter.id.run((ctx, item.0.clone())) {
            let v = out.map_err(reason)?;
            if values.len() == MAX_OUTPUTS {
                return Err(format!("yields more than {MAX_OUTPUTS} values"));
            }
            values.push(from_val(&v));
        }
        Ok(values)
    }

    /// True when the expression's first value is neither `false` nor `null` (jq's truth).
    pub fn holds(&self, item: &Input, globals: &Globals) -> Result<bool, String> {
        let filter = &self.program.filter;
        let ctx = Ctx::<Data>::new(&filter.lut, globals.vars(self.index));
        match filter.id.run((ctx, item.0.clone())).next() {
            None => Ok(false),
            Some(out) => {
                let v = out.map_err(reason)?;
                Ok(!matches!(v, Val::Null | Val::Bool(false)))
            }
        }
    }
}

/// How deep `(`, `[` and `{` nest in `code`, counted everywhere: string literals too, since a
/// string's interpolations (`"\(...)"`) nest as deeply as the parser follows them.
fn nesting(code: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0);
    for c in code.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Compiles `body` after the shadows and the mapping's `definitions`, with the globals declared.
fn build(
    definitions: &str,
    variables: &[&str],
    body: &str,
) -> Result<jaq_core::Filter<Data>, String> {
    let globals: Vec<String> = [DISPATCH.to_owned(), "$record".to_owned()]
        .into_iter()
        .chain(variables.iter().map(|v| format!("${v}")))
        .collect();
    let whole = format!("{SHADOWS}\n{definitions}\n{body}");
    let shadows = SHADOWS.len() + 1;
    let prefix = shadows + definitions.len() + 1;
    let code = whole.as_str();
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .filter(|(name, _, _)| !WITHHELD.contains(name));
    let arena = Arena::default();
    let loader = Loader::new(defs);
    let modules = loader
        .load(&arena, File { code, path: () })
        .map_err(|errors| {
            let first = errors.into_iter().next().map(|(_, e)| e);
            match first {
                Some(jaq_core::load::Error::Lex(e)) => e
                    .first()
                    .map(|(expect, at)| expected(code, shadows, prefix, expect.as_str(), at))
                    .unwrap_or_else(|| "not a jq expression".to_owned()),
                Some(jaq_core::load::Error::Parse(e)) => e
                    .first()
                    .map(|(expect, at)| expected(code, shadows, prefix, expect.as_str(), at))
                    .unwrap_or_else(|| "not a jq expression".to_owned()),
                _ => "jq modules cannot be imported in a mapping".to_owned(),
            }
        })?;
    Compiler::default()
        .with_funs(funs)
        .with_global_vars(globals.iter().map(String::as_str))
        .compile(modules)
        .map_err(|errors| {
            let names: Vec<String> = errors
                .into_iter()
                .flat_map(|(_, e)| e)
                .map(|(name, undefined)| format!("{} `{name}`", undefined.as_str()))
                .collect();
            format!("undefined {}", names.join(", "))
        })
}

/// A jq exception as words. (Not `jaq_core::unwrap_valr`: it ends the process on `halt`.)
fn reason(e: Exn<Val>) -> String {
    match e.get_err() {
        Ok(error) => error.to_string(),
        Err(_) => "the expression stopped (halt)".to_owned(),
    }
}

/// "expected X at `...`" with the rest of the text from where jq stopped; in `code`, the mapping's
/// definitions run from byte `shadows` to `prefix`.
fn expected(code: &str, shadows: usize, prefix: usize, what: &str, at: &str) -> String {
    // `at` is a slice of `code` (a token, or the rest of the text): its address gives its place.
    let offset = (at.as_ptr() as usize)
        .checked_sub(code.as_ptr() as usize)
        .filter(|o| *o <= code.len())
        .unwrap_or(code.len());
    let rest: String = code[offset..].chars().take(24).collect();
    let place = if rest.is_empty() {
        "at the end".to_owned()
    } else if offset < prefix {
        format!(
            "in the definitions at byte {} (`{rest}`)",
            offset.saturating_sub(shadows)
        )
    } else {
        format!("at byte {} (`{rest}`)", offset - prefix)
    };
    format!("jq syntax: expected {what} {place}")
}

fn to_val(value: &Value) -> Val {
    match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => Val::Num(number(n)),
        Value::String(s) => Val::from(s.clone()),
        Value::Array(items) => items.iter().map(to_val).collect(),
        Value::Object(map) => Val::obj(
            map.iter()
                .map(|(k, v)| (Val::from(k.clone()), to_val(v)))
                .collect(),
        ),
    }
}

/// A JSON number as jq holds it: an integer, or the decimal text itself.
fn number(n: &Number) -> Num {
    match n.as_i64() {
        Some(i) => Num::from_integral(i),
        None => Num::Dec(Rc::new(n.to_string())),
    }
}

fn from_val(v: &Val) -> Value {
    match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => {
            let text = n.to_string();
            serde_json::from_str::<Number>(&text).map_or(Value::Null, Value::Number)
        }
        Val::TStr(_) | Val::BStr(_) => Value::String(text_of(v)),
        Val::Arr(items) => Value::Array(items.iter().map(from_val).collect()),
        Val::Obj(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (text_of(k), from_val(v)))
                .collect::<Map<String, Value>>(),
        ),
    }
}

/// A string's text, or any other value written as JSON.
fn text_of(v: &Val) -> String {
    match v {
        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(code: &str, item: Value) -> Result<Vec<Value>, String> {
        let record = Input::new(&item);
        Expr::compile("", &[], code)?.run(&record, &Globals::record(&record))
    }

    #[test]
    fn looks_up_a_characteristic_by_its_name() {
        let sap = json!({"characteristics": [
            {"ATNAM": "ZV_AXLES", "ATFLV": 2},
            {"ATNAM": "ZV_TPMLM", "ATFLV": 11.99, "ATAWE": "TO"}]});
        let got = eval(
            r#".characteristics[] | select(.ATNAM == "ZV_TPMLM") | .ATFLV"#,
            sap,
        );
        assert_eq!(got, Ok(vec![json!(11.99)]));
    }

    #[test]
    fn counts_and_concatenates() {
        let rec = json!({"axles": [{}, {}, {}], "a": "Nordbau", "b": "K2"});
        assert_eq!(eval(".axles | length", rec.clone()), Ok(vec![json!(3)]));
        assert_eq!(eval(r#""\(.a) \(.b)""#, rec), Ok(vec![json!("Nordbau K2")]));
    }

    #[test]
    fn sees_the_whole_record_from_an_item() {
        let rec = json!({"vin": "X"});
        let item = Input::new(&json!(1));
        let got = Expr::compile("", &[], r#""\($record.vin)-\(.)""#)
            .and_then(|e| e.run(&item, &Globals::record(&Input::new(&rec))));
        assert_eq!(got, Ok(vec![json!("X-1")]));
    }

    #[test]
    fn errors_say_what_went_wrong() {
        let syntax = Expr::compile("", &[], ".a | select(").map(|_| ());
        assert!(
            syntax.as_ref().is_err_and(|e| e.starts_with("jq syntax")),
            "{syntax:?}"
        );
        let undefined = Expr::compile("", &[], "nosuchfilter(1)").map(|_| ());
        assert!(
            undefined
                .as_ref()
                .is_err_and(|e| e.contains("nosuchfilter")),
            "{undefined:?}"
        );
        let runtime = eval(".a + 1", json!({"a": "text"}));
        assert!(runtime.is_err(), "{runtime:?}");
    }

    #[test]
    fn an_expression_reaches_nothing_outside_the_record() {
        for code in ["env", "$ENV", "input", "inputs", "input_filename"] {
            let compiled = Expr::compile("", &[], code);
            assert!(
                compiled.as_ref().is_err_and(|e| e.contains("undefined")),
                "{code}: {compiled:?}"
            );
        }
        let rec = json!({"a": 1});
        let input = Input::new(&rec);
        let run = |code: &str| {
            Expr::compile("", &[], code).and_then(|e| e.run(&input, &Globals::record(&input)))
        };
        assert_eq!(run(".a | debug"), Ok(vec![json!(1)]));
        assert_eq!(run("stderr | .a"), Ok(vec![json!(1)]));
        for stops in ["halt", "halt(3)", "halt_error", "\"x\" | halt_error(1)"] {
            assert!(run(stops).is_err_and(|e| e.contains("halt")), "{stops}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        let refused = Expr::compile("", &[], &deep).map(|_| ());
        assert!(refused.is_err_and(|e| e.contains("nest")));
        let interpolated = format!("{}1{}", "\"\\(".repeat(100), ")\"".repeat(100));
        let refused = Expr::compile("", &[], &interpolated).map(|_| ());
        assert!(refused.is_err_and(|e| e.contains("nest")));
    }

    #[test]
    fn truth_is_jq_truth() {
        let rec = json!({"fuel": "ELEKTRISCH", "n": 0});
        let input = Input::new(&rec);
        let holds = |code: &str| {
            Expr::compile("", &[], code).and_then(|e| e.holds(&input, &Globals::record(&input)))
        };
        assert_eq!(holds(r#".fuel == "ELEKTRISCH""#), Ok(true));
        assert_eq!(holds(".n"), Ok(true));
        assert_eq!(holds(".missing"), Ok(false));
        assert_eq!(holds("empty"), Ok(false));
    }
}

#[cfg(test)]
mod program_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_program_runs_each_expression_as_its_own() {
        let codes = [
            ".a",
            ".b # a comment",
            "def twice: . * 2; .a | twice",
            "[$record.a, $v]",
            ".c",
        ];
        let program = Program::compile("def one: 1;", &["v"], &codes).unwrap();
        let rec = json!({"a": 1, "b": "x", "c": [1]});
        let input = Input::new(&rec);
        let mut globals = Globals::record(&input);
        globals.push(Some(json!("v")));
        let got: Vec<Vec<Value>> = program
            .exprs()
            .iter()
            .map(|e| e.run(&input, &globals).unwrap())
            .collect();
        assert_eq!(
            got,
            [
                vec![json!(1)],
                vec![json!("x")],
                vec![json!(2)],
                vec![json!([1, "v"])],
                vec![json!([1])]
            ]
        );
        assert_eq!(program.exprs()[1].code(), ".b # a comment");
        assert!(Program::compile("", &[], &[]).unwrap().exprs().is_empty());
    }
}

#[cfg(test)]
mod variable_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variables_are_named_in_order() {
        let rec = json!({"a": 1});
        let input = Input::new(&rec);
        let mut globals = Globals::record(&input);
        globals.push(Some(json!("first")));
        globals.push(Some(json!("second")));
        let got = Expr::compile("", &["one", "two"], "[$record.a, $one, $two]")
            .and_then(|e| e.run(&input, &globals));
        assert_eq!(got, Ok(vec![json!([1, "first", "second"])]));
        let unknown = Expr::compile("", &["one"], "$three").map(|_| ());
        assert!(unknown.is_err_and(|e| e.contains("three")));
    }
}

#[cfg(test)]
mod definition_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn definitions_are_shared_by_every_expression() {
        let defs = r#"def ch($n): $record.characteristics[] | select(.ATNAM == $n);"#;
        let rec = json!({"characteristics": [{"ATNAM": "ZV_FUEL", "ATWRT": "DIESEL"}]});
        let input = Input::new(&rec);
        let got = Expr::compile(defs, &[], r#"ch("ZV_FUEL") | .ATWRT"#)
            .and_then(|e| e.run(&input, &Globals::record(&input)));
        assert_eq!(got, Ok(vec![json!("DIESEL")]));
        let broken = Expr::compile("def ch($n): ;", &[], ".").map(|_| ());
        assert!(
            broken.as_ref().is_err_and(|e| e.contains("definitions")),
            "{broken:?}"
        );
    }
}
