//! The subset of matplotlib's mathtext that axis labels use: text between `$...$` with
//! sub- and superscripts (`_x`, `_{...}`, `^x`, `^{...}`), Greek letters and a few symbols
//! (`\mu`, `\Delta`, `\pm`, `\to`, ...), and `\mathrm{...}` (also `\text`, `\mathit`,
//! `\mathbf`, `\mathsf`, whose content is drawn as is). The result is a list of runs, each
//! on the baseline, raised or lowered; the plots draw them, so no `$` or backslash reaches
//! a plot.

/// Where a run sits: on the baseline, as a subscript or as a superscript.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    Normal,
    Sub,
    Sup,
}

/// A piece of text drawn in one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub text: String,
    pub script: Script,
}

fn symbol(name: &str) -> Option<&'static str> {
    Some(match name {
        "alpha" => "α",
        "beta" => "β",
        "gamma" => "γ",
        "delta" => "δ",
        "epsilon" | "varepsilon" => "ε",
        "zeta" => "ζ",
        "eta" => "η",
        "theta" | "vartheta" => "θ",
        "iota" => "ι",
        "kappa" => "κ",
        "lambda" => "λ",
        "mu" => "μ",
        "nu" => "ν",
        "xi" => "ξ",
        "pi" => "π",
        "rho" => "ρ",
        "sigma" => "σ",
        "tau" => "τ",
        "upsilon" => "υ",
        "phi" | "varphi" => "φ",
        "chi" => "χ",
        "psi" => "ψ",
        "omega" => "ω",
        "Gamma" => "Γ",
        "Delta" => "Δ",
        "Theta" => "Θ",
        "Lambda" => "Λ",
        "Xi" => "Ξ",
        "Pi" => "Π",
        "Sigma" => "Σ",
        "Upsilon" => "Υ",
        "Phi" => "Φ",
        "Psi" => "Ψ",
        "Omega" => "Ω",
        "ell" => "ℓ",
        "pm" => "±",
        "mp" => "∓",
        "times" => "×",
        "cdot" => "·",
        "to" | "rightarrow" => "→",
        "leftarrow" => "←",
        "infty" => "∞",
        "geq" | "ge" => "≥",
        "leq" | "le" => "≤",
        "neq" | "ne" => "≠",
        "approx" => "≈",
        "sim" => "~",
        "sqrt" => "√",
        "prime" => "′",
        "circ" => "°",
        "gg" => "≫",
        "ll" => "≪",
        "bar" | "overline" => "", // drawn without the bar: the letter stays readable
        _ => return None,
    })
}

/// Parses `s` into runs; text outside `$...$` is taken literally (as matplotlib does).
pub fn parse(s: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = find_dollar(rest) {
        let after = &rest[open + 1..];
        let Some(close) = find_dollar(after) else {
            break;
        };
        push(&mut out, &unescape(&rest[..open]), Script::Normal);
        math(&after[..close], Script::Normal, &mut out);
        rest = &after[close + 1..];
    }
    push(&mut out, &unescape(rest), Script::Normal);
    out
}

/// The text of the runs, scripts flattened (what a reader sees, without layout).
pub fn plain(s: &str) -> String {
    parse(s).into_iter().map(|r| r.text).collect()
}

/// The next unescaped `$`.
fn find_dollar(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len()).find(|&i| b[i] == b'$' && (i == 0 || b[i - 1] != b'\\'))
}

fn unescape(s: &str) -> String {
    s.replace("\\$", "$")
}

fn push(out: &mut Vec<Run>, text: &str, script: Script) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(r) if r.script == script => r.text.push_str(text),
        _ => out.push(Run {
            text: text.to_string(),
            script,
        }),
    }
}

/// The group starting at `s` (a `{...}` group or one character or command) and the rest.
fn group(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    if let Some(inner) = s.strip_prefix('{') {
        let mut depth = 1;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return (&inner[..i], &inner[i + 1..]);
                    }
                }
                _ => {}
            }
        }
        return (inner, "");
    }
    if let Some(name) = s.strip_prefix('\\') {
        // A command is a backslash and letters, or a backslash and one other character.
        let end = name
            .char_indices()
            .find(|(_, c)| !c.is_ascii_alphabetic())
            .map_or(name.len(), |(i, _)| i)
            .max(name.chars().next().map_or(0, char::len_utf8));
        return (&s[..end + 1], &s[end + 1..]);
    }
    match s.chars().next() {
        Some(c) => s.split_at(c.len_utf8()),
        None => ("", ""),
    }
}

fn math(s: &str, script: Script, out: &mut Vec<Run>) {
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        match c {
            '_' | '^' => {
                let (g, r) = group(&rest[1..]);
                // Nested scripts stay one level down or up: enough for labels.
                let inner = if script != Script::Normal {
                    script
                } else if c == '_' {
                    Script::Sub
                } else {
                    Script::Sup
                };
                math(g, inner, out);
                rest = r;
            }
            '{' => {
                let (g, r) = group(rest);
                math(g, script, out);
                rest = r;
            }
            '}' => rest = &rest[1..],
            // TeX ignores spaces in math (`\ ` and `\,` make them).
            c if c.is_whitespace() => rest = &rest[c.len_utf8()..],
            '\\' => {
                let (cmd, r) = group(rest);
                let name = &cmd[1..];
                rest = r;
                match name {
                    "mathrm" | "text" | "mathit" | "mathbf" | "mathsf" | "rm" | "operatorname" => {
                        let (g, r) = group(rest);
                        math(g, script, out);
                        rest = r;
                    }
                    "," | ";" | " " | "quad" => push(out, " ", script),
                    "!" => {}
                    "$" | "%" | "#" | "&" | "_" | "{" | "}" => push(out, name, script),
                    _ => match symbol(name) {
                        Some(sym) => push(out, sym, script),
                        None => push(out, name, script),
                    },
                }
            }
            _ => {
                push(out, &c.to_string(), script);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(s: &str) -> Vec<(String, Script)> {
        parse(s).into_iter().map(|r| (r.text, r.script)).collect()
    }

    #[test]
    fn labels_physicists_write() {
        use Script::*;
        assert_eq!(
            runs("$m_{\\mu\\mu}$ [GeV]"),
            vec![
                ("m".into(), Normal),
                ("μμ".into(), Sub),
                (" [GeV]".into(), Normal)
            ]
        );
        assert_eq!(
            runs("$p_T^{\\mathrm{lead}}$"),
            vec![
                ("p".into(), Normal),
                ("T".into(), Sub),
                ("lead".into(), Sup)
            ]
        );
        assert_eq!(
            runs("$\\Delta R(\\ell, j)$"),
            vec![("ΔR(ℓ,j)".into(), Normal)]
        );
        assert_eq!(plain("$m_{bjj}$ [GeV]"), "mbjj [GeV]");
        assert_eq!(plain("$H_T$ \\$5"), "HT $5");
        assert_eq!(plain("$E_{\\mathrm{T}}^{miss}$"), "ETmiss");
        // An odd `$` stays as it is; no markup is lost.
        assert_eq!(plain("cost in $"), "cost in $");
        assert_eq!(plain("x^2"), "x^2");
        assert_eq!(plain("$10^{-3}$"), "10-3");
        assert_eq!(plain("$m_{\\mu\\mu}\\ \\mathrm{[GeV]}$"), "mμμ [GeV]");
    }
}
