//! Values, types, and the operators and casts over them (C semantics, checked arithmetic).

use std::fmt;

use crate::error::ErrorKind;

/// A resolved ACL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// 64-bit signed integer.
    Int(i64),
    /// 64-bit float.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// UTF-8 text.
    String(String),
    /// An ordered list of values.
    Array(Vec<Value>),
}

/// The scalar types a field can declare (`ref` aside, which is about syntax, not values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarType {
    /// `int`
    Int,
    /// `float`
    Float,
    /// `bool`
    Bool,
    /// `string`
    String,
}

impl ScalarType {
    /// The keyword for this type.
    pub fn keyword(self) -> &'static str {
        match self {
            ScalarType::Int => "int",
            ScalarType::Float => "float",
            ScalarType::Bool => "bool",
            ScalarType::String => "string",
        }
    }

    /// Parses a type keyword.
    pub fn from_keyword(word: &str) -> Option<Self> {
        Some(match word {
            "int" => ScalarType::Int,
            "float" => ScalarType::Float,
            "bool" => ScalarType::Bool,
            "string" => ScalarType::String,
            _ => return None,
        })
    }
}

impl Value {
    /// The type name used in messages: `int`, `float`, `bool`, `string`, `array`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bool(_) => "bool",
            Value::String(_) => "string",
            Value::Array(_) => "array",
        }
    }

    /// The scalar type, if this is a scalar.
    pub fn scalar_type(&self) -> Option<ScalarType> {
        Some(match self {
            Value::Int(_) => ScalarType::Int,
            Value::Float(_) => ScalarType::Float,
            Value::Bool(_) => ScalarType::Bool,
            Value::String(_) => ScalarType::String,
            Value::Array(_) => return None,
        })
    }

    /// A short description for error messages: the type and a preview of the value.
    pub fn describe(&self) -> String {
        let mut literal = self.to_string();
        if literal.chars().count() > 40 {
            literal = literal.chars().take(37).collect::<String>() + "...";
        }
        format!("{} {literal}", self.type_name())
    }

    /// Text form used by `+` concatenation and `(string)` casts: strings unquoted, numbers as
    /// written canonically.
    pub fn to_text(&self) -> String {
        match self {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }

    /// Converts to `target`, as `(target)value` does.
    pub fn cast(&self, target: ScalarType) -> Result<Value, ErrorKind> {
        let bad = || ErrorKind::BadCast {
            value: self.describe(),
            target: target.keyword().to_string(),
        };
        Ok(match (target, self) {
            (_, Value::Array(_)) => return Err(bad()),
            (ScalarType::Int, Value::Int(n)) => Value::Int(*n),
            (ScalarType::Int, Value::Float(x)) => {
                // Truncation toward zero, as C does; out-of-range and NaN have no answer.
                if x.is_finite() && *x >= -9.223_372_036_854_776e18 && *x < 9.223_372_036_854_776e18
                {
                    Value::Int(*x as i64)
                } else {
                    return Err(bad());
                }
            }
            (ScalarType::Int, Value::Bool(b)) => Value::Int(i64::from(*b)),
            (ScalarType::Int, Value::String(s)) => Value::Int(s.trim().parse().map_err(|_| bad())?),
            (ScalarType::Float, Value::Int(n)) => Value::Float(*n as f64),
            (ScalarType::Float, Value::Float(x)) => Value::Float(*x),
            (ScalarType::Float, Value::Bool(b)) => Value::Float(if *b { 1.0 } else { 0.0 }),
            (ScalarType::Float, Value::String(s)) => {
                Value::Float(s.trim().parse().map_err(|_| bad())?)
            }
            (ScalarType::Bool, Value::Bool(b)) => Value::Bool(*b),
            (ScalarType::Bool, Value::Int(n)) => Value::Bool(*n != 0),
            (ScalarType::Bool, Value::Float(x)) => Value::Bool(*x != 0.0),
            (ScalarType::Bool, Value::String(s)) => match s.trim() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(bad()),
            },
            (ScalarType::String, value) => Value::String(value.to_text()),
        })
    }
}

/// Writes the value as a canonical ACL literal that parses back to the same value.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Float(x) if x.is_nan() => f.write_str("(float)\"nan\""),
            Value::Float(x) if x.is_infinite() => {
                write!(f, "(float)\"{}inf\"", if *x < 0.0 { "-" } else { "" })
            }
            // `{:?}` is the shortest text that round-trips, and always has a `.` or an exponent.
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::String(s) => write_string_literal(f, s),
            Value::Array(items) => {
                if items.is_empty() {
                    return f.write_str("{}");
                }
                f.write_str("{ ")?;
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(" }")
            }
        }
    }
}

fn write_string_literal(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for character in text.chars() {
        match character {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if (c as u32) < 0x20 || c == '\u{7f}' => write!(f, "\\x{:02x}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Self {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

/// Binary operators, in C's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOperator {
    /// `*`
    Multiply,
    /// `/`
    Divide,
    /// `%`
    Remainder,
    /// `+` (also string concatenation and array concatenation)
    Add,
    /// `-`
    Subtract,
    /// `<`
    Less,
    /// `<=`
    LessEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterEqual,
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `&&` (short-circuit)
    And,
    /// `||` (short-circuit)
    Or,
}

impl BinaryOperator {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        use BinaryOperator::*;
        match self {
            Multiply => "*",
            Divide => "/",
            Remainder => "%",
            Add => "+",
            Subtract => "-",
            Less => "<",
            LessEqual => "<=",
            Greater => ">",
            GreaterEqual => ">=",
            Equal => "==",
            NotEqual => "!=",
            And => "&&",
            Or => "||",
        }
    }

    /// Applies a non-short-circuit operator.
    pub fn apply(self, left: Value, right: Value) -> Result<Value, ErrorKind> {
        use BinaryOperator::*;
        use Value::{Array, Bool, Float, Int, String as Str};
        let bad = |left: &Value, right: &Value| ErrorKind::BadOperands {
            operator: self.symbol().to_string(),
            left: left.describe(),
            right: right.describe(),
        };
        let overflow = |a: i64, b: i64| ErrorKind::Overflow(format!("{a} {} {b}", self.symbol()));
        // Joins reserve exactly what they need: growing by doubling could take up to twice
        // the size the evaluator checked against its limits.
        Ok(match (self, left, right) {
            (Add, Str(mut a), Str(b)) => {
                a.reserve_exact(b.len());
                a.push_str(&b);
                Str(a)
            }
            (Add, Str(mut a), b) if !matches!(b, Array(_)) => {
                let b = b.to_text();
                a.reserve_exact(b.len());
                a.push_str(&b);
                Str(a)
            }
            (Add, a, Str(b)) if !matches!(a, Array(_)) => {
                let mut text = a.to_text();
                text.reserve_exact(b.len());
                text.push_str(&b);
                Str(text)
            }
            (Add, Array(mut a), Array(b)) => {
                a.reserve_exact(b.len());
                a.extend(b);
                Array(a)
            }
            (Add | Subtract | Multiply | Divide | Remainder, Int(a), Int(b)) => {
                let result = match self {
                    Add => a.checked_add(b),
                    Subtract => a.checked_sub(b),
                    Multiply => a.checked_mul(b),
                    _ if b == 0 => return Err(ErrorKind::DivisionByZero),
                    Divide => a.checked_div(b),
                    _ => a.checked_rem(b),
                };
                Int(result.ok_or_else(|| overflow(a, b))?)
            }
            (
                Add | Subtract | Multiply | Divide | Remainder,
                a @ (Int(_) | Float(_)),
                b @ (Int(_) | Float(_)),
            ) => {
                let (x, y) = (as_float(&a), as_float(&b));
                match self {
                    Add => Float(x + y),
                    Subtract => Float(x - y),
                    Multiply => Float(x * y),
                    _ if y == 0.0 => return Err(ErrorKind::DivisionByZero),
                    Divide => Float(x / y),
                    _ => Float(x % y),
                }
            }
            (Less | LessEqual | Greater | GreaterEqual, a, b) => {
                let ordering = match (&a, &b) {
                    (Int(x), Int(y)) => x.partial_cmp(y),
                    (Int(_) | Float(_), Int(_) | Float(_)) => {
                        as_float(&a).partial_cmp(&as_float(&b))
                    }
                    (Str(x), Str(y)) => x.partial_cmp(y),
                    _ => return Err(bad(&a, &b)),
                };
                // NaN compares false with everything, as in C.
                Bool(ordering.is_some_and(|ordering| match self {
                    Less => ordering.is_lt(),
                    LessEqual => ordering.is_le(),
                    Greater => ordering.is_gt(),
                    _ => ordering.is_ge(),
                }))
            }
            (Equal | NotEqual, a, b) => {
                let equal = match (&a, &b) {
                    (Int(_) | Float(_), Int(_) | Float(_)) if a.type_name() != b.type_name() => {
                        as_float(&a) == as_float(&b)
                    }
                    _ if a.type_name() == b.type_name() => a == b,
                    _ => return Err(bad(&a, &b)),
                };
                Bool(equal == (self == Equal))
            }
            (And | Or, Bool(a), Bool(b)) => Bool(if self == And { a && b } else { a || b }),
            (_, a, b) => return Err(bad(&a, &b)),
        })
    }
}

fn as_float(value: &Value) -> f64 {
    match value {
        Value::Int(n) => *n as f64,
        Value::Float(x) => *x,
        _ => f64::NAN,
    }
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOperator {
    /// `!`
    Not,
    /// `-`
    Negate,
    /// `+`
    Plus,
}

impl UnaryOperator {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOperator::Not => "!",
            UnaryOperator::Negate => "-",
            UnaryOperator::Plus => "+",
        }
    }

    /// Applies the operator.
    pub fn apply(self, operand: Value) -> Result<Value, ErrorKind> {
        Ok(match (self, operand) {
            (UnaryOperator::Not, Value::Bool(b)) => Value::Bool(!b),
            (UnaryOperator::Negate, Value::Int(n)) => Value::Int(
                n.checked_neg()
                    .ok_or_else(|| ErrorKind::Overflow(format!("-({n})")))?,
            ),
            (UnaryOperator::Negate, Value::Float(x)) => Value::Float(-x),
            (UnaryOperator::Plus, value @ (Value::Int(_) | Value::Float(_))) => value,
            (_, operand) => {
                return Err(ErrorKind::BadOperand {
                    operator: self.symbol().to_string(),
                    operand: operand.describe(),
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BinaryOperator::*;

    #[test]
    fn arithmetic_table() {
        let cases: Vec<(BinaryOperator, Value, Value, Value)> = vec![
            (Add, 1.into(), 2.into(), 3.into()),
            (Add, 1.into(), 0.5.into(), 1.5.into()),
            (Add, "v".into(), 1.into(), "v1".into()),
            (Add, 2.5.into(), "x".into(), "2.5x".into()),
            (Add, true.into(), "!".into(), "true!".into()),
            (
                Add,
                vec![1i64].into(),
                vec![2i64].into(),
                vec![1i64, 2].into(),
            ),
            (Subtract, 1.into(), 3.into(), (-2).into()),
            (Multiply, 4.into(), 2.5.into(), 10.0.into()),
            (Divide, 7.into(), 2.into(), 3.into()),
            (Divide, (-7).into(), 2.into(), (-3).into()),
            (Remainder, (-7).into(), 2.into(), (-1).into()),
            (Divide, 7.0.into(), 2.into(), 3.5.into()),
            (Less, 1.into(), 1.5.into(), true.into()),
            (GreaterEqual, "b".into(), "a".into(), true.into()),
            (Equal, 1.into(), 1.0.into(), true.into()),
            (NotEqual, "a".into(), "a".into(), false.into()),
            (Equal, vec![1i64].into(), vec![1i64].into(), true.into()),
            (And, true.into(), false.into(), false.into()),
            (Or, true.into(), false.into(), true.into()),
        ];
        for (operator, left, right, expected) in cases {
            let description = format!("{left} {} {right}", operator.symbol());
            assert_eq!(
                operator.apply(left, right).unwrap(),
                expected,
                "{description}"
            );
        }
    }

    #[test]
    fn arithmetic_errors() {
        let cases: Vec<(BinaryOperator, Value, Value, &str)> = vec![
            (Divide, 1.into(), 0.into(), "division by zero"),
            (Remainder, 1.into(), 0.into(), "division by zero"),
            (Divide, 1.0.into(), 0.0.into(), "division by zero"),
            (
                Add,
                i64::MAX.into(),
                1.into(),
                "integer overflow: 9223372036854775807 + 1",
            ),
            (
                Divide,
                i64::MIN.into(),
                (-1).into(),
                "integer overflow: -9223372036854775808 / -1",
            ),
            (
                Subtract,
                "a".into(),
                1.into(),
                "operator `-` cannot be applied to string \"a\" and int 1",
            ),
            (
                Less,
                true.into(),
                false.into(),
                "operator `<` cannot be applied to bool true and bool false",
            ),
            (
                Equal,
                1.into(),
                "1".into(),
                "operator `==` cannot be applied to int 1 and string \"1\"",
            ),
            (
                And,
                1.into(),
                true.into(),
                "operator `&&` cannot be applied to int 1 and bool true",
            ),
        ];
        for (operator, left, right, message) in cases {
            assert_eq!(
                operator.apply(left, right).unwrap_err().to_string(),
                message
            );
        }
    }

    #[test]
    fn casts() {
        use ScalarType::*;
        let cases: Vec<(ScalarType, Value, Option<Value>)> = vec![
            (Int, "42".into(), Some(42.into())),
            (Int, " -3 ".into(), Some((-3).into())),
            (Int, 3.9.into(), Some(3.into())),
            (Int, (-3.9).into(), Some((-3).into())),
            (Int, true.into(), Some(1.into())),
            (Int, "x".into(), None),
            (Int, f64::NAN.into(), None),
            (Int, 1e19.into(), None),
            (Float, 2.into(), Some(2.0.into())),
            (Float, "2.5".into(), Some(2.5.into())),
            (Float, "x".into(), None),
            (Bool, 0.into(), Some(false.into())),
            (Bool, "true".into(), Some(true.into())),
            (Bool, "yes".into(), None),
            (String, 1.5.into(), Some("1.5".into())),
            (String, false.into(), Some("false".into())),
            (String, vec![1i64].into(), None),
        ];
        for (target, value, expected) in cases {
            let result = value.cast(target);
            match expected {
                Some(expected) => assert_eq!(result.unwrap(), expected),
                None => assert!(
                    matches!(result, Err(ErrorKind::BadCast { .. })),
                    "{value:?} as {target:?}"
                ),
            }
        }
    }

    #[test]
    fn joins_take_only_the_memory_they_need() {
        let long = || Value::from("x".repeat(1000));
        let cases: Vec<(Value, Value, usize)> = vec![
            (long(), "y".into(), 1001),
            (long(), long(), 2000),
            (long(), 12.into(), 1002),
            (true.into(), long(), 1004),
        ];
        for (left, right, length) in cases {
            match Add.apply(left, right).unwrap() {
                Value::String(text) => {
                    assert_eq!((text.len(), text.capacity()), (length, length));
                }
                other => panic!("{other:?}"),
            }
        }
        let items = |count: usize| Value::Array(vec![Value::Int(0); count]);
        match Add.apply(items(1000), items(24)).unwrap() {
            Value::Array(joined) => assert_eq!((joined.len(), joined.capacity()), (1024, 1024)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn literals_escape() {
        assert_eq!(
            Value::from("a\"b\\\n\u{1}").to_string(),
            r#""a\"b\\\n\x01""#
        );
        assert_eq!(Value::from(1.0).to_string(), "1.0");
        assert_eq!(Value::from(1e300).to_string(), "1e300");
        assert_eq!(Value::from(Vec::<i64>::new()).to_string(), "{}");
    }
}
