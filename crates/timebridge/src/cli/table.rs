//! How the operator's list commands print: an aligned table for a person at a terminal, one
//! JSON object per line when stdout is piped (for scripts and `jq`), so a script never parses
//! columns meant for eyes.

use std::io::{IsTerminal, Write};

use serde_json::Value;

/// Rows to print, each a JSON object holding at least the columns' keys.
pub struct Table {
    columns: &'static [&'static str],
    rows: Vec<Value>,
}

impl Table {
    pub fn new(columns: &'static [&'static str]) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Value) {
        self.rows.push(row);
    }

    /// Prints the rows: as a table on a terminal, else as JSON lines (every key of each row).
    pub fn print(self) -> std::io::Result<()> {
        let stdout = std::io::stdout();
        let terminal = stdout.is_terminal();
        let mut out = stdout.lock();
        if !terminal {
            for row in &self.rows {
                writeln!(out, "{row}")?;
            }
            return Ok(());
        }
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| self.columns.iter().map(|c| cell(&row[*c])).collect())
            .collect();
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, name)| {
                cells
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([name.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |values: Vec<&str>| {
            values
                .iter()
                .zip(&widths)
                .map(|(v, w)| format!("{v:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        };
        writeln!(out, "{}", line(self.columns.to_vec()))?;
        for row in &cells {
            writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
        }
        Ok(())
    }
}

/// A value as a table cell: text as is, lists joined by commas, nothing as `-`.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_read_as_words() {
        assert_eq!(cell(&json!(null)), "-");
        assert_eq!(cell(&json!(true)), "yes");
        assert_eq!(
            cell(&json!(["read:projects", "write:tasks"])),
            "read:projects,write:tasks"
        );
        assert_eq!(cell(&json!(3)), "3");
    }
}
