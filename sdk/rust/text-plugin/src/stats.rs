//! Word, character and line statistics.

use std::collections::HashMap;

use toolhost_sdk::Error;

/// How many characters are read between two cancellation checks.
const CHECK_EVERY: usize = 64 * 1024;

/// The statistics of a text.
#[derive(Debug, PartialEq, Eq)]
pub struct Stats {
    pub bytes: usize,
    pub characters: usize,
    /// Runs of characters between whitespace.
    pub words: usize,
    /// Lines of text: a final line without a newline counts, an empty text has none.
    pub lines: usize,
    /// Lines with nothing but whitespace.
    pub blank_lines: usize,
    /// The longest line, in characters, without its line break.
    pub longest_line: usize,
    /// The `top` most frequent words (lowercased, letters, digits, `'` and `-` only), most
    /// frequent first, ties in alphabetical order.
    pub top_words: Vec<(String, usize)>,
}

/// Measures `text`. `check` is called every 64 Ki characters and stops the work with its error
/// (cancellation).
pub fn measure(text: &str, top: usize, check: &mut dyn FnMut() -> Result<(), Error>) -> Result<Stats, Error> {
    let mut s = Stats {
        bytes: text.len(),
        characters: 0,
        words: 0,
        lines: 0,
        blank_lines: 0,
        longest_line: 0,
        top_words: Vec::new(),
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut line_len = 0usize;
    let mut line_blank = true;
    for c in text.chars() {
        s.characters += 1;
        if s.characters % CHECK_EVERY == 0 {
            check()?;
        }
        if c == '\n' {
            s.lines += 1;
            s.blank_lines += usize::from(line_blank);
            s.longest_line = s.longest_line.max(line_len);
            line_len = 0;
            line_blank = true;
        } else {
            line_len += 1;
            line_blank &= c.is_whitespace();
        }
        if c.is_whitespace() {
            if in_word {
                flush(&mut word, &mut counts, top);
            }
            in_word = false;
        } else {
            if !in_word {
                s.words += 1;
            }
            in_word = true;
            if top > 0 && (c.is_alphanumeric() || c == '\'' || c == '-') {
                word.extend(c.to_lowercase());
            }
        }
    }
    flush(&mut word, &mut counts, top);
    if line_len > 0 {
        s.lines += 1;
        s.blank_lines += usize::from(line_blank);
        s.longest_line = s.longest_line.max(line_len);
    }
    let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(top);
    s.top_words = ranked;
    Ok(s)
}

fn flush(word: &mut String, counts: &mut HashMap<String, usize>, top: usize) {
    let w = word.trim_matches(|c| c == '\'' || c == '-');
    if top > 0 && !w.is_empty() {
        *counts.entry(w.to_owned()).or_insert(0) += 1;
    }
    word.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolhost_sdk::Status;

    fn m(text: &str, top: usize) -> Stats {
        measure(text, top, &mut || Ok(())).unwrap()
    }

    #[test]
    fn counts_words_characters_and_lines() {
        let s = m("Hello, wörld!\n\n  two  words \nlast", 0);
        assert_eq!(s.bytes, 34);
        assert_eq!(s.characters, 33);
        assert_eq!(s.words, 5);
        assert_eq!(s.lines, 4);
        assert_eq!(s.blank_lines, 1);
        assert_eq!(s.longest_line, 13);
        assert!(s.top_words.is_empty());
        assert_eq!(m("", 0).lines, 0);
        assert_eq!(m("one\n", 0).lines, 1);
        assert_eq!(m("   \n", 0).blank_lines, 1);
    }

    #[test]
    fn ranks_the_most_frequent_words() {
        let s = m("The cat and the dog. THE end, the-end; cat's 'quoted'", 3);
        assert_eq!(
            s.top_words,
            vec![("the".to_owned(), 3), ("and".to_owned(), 1), ("cat".to_owned(), 1)]
        );
    }

    #[test]
    fn stops_when_the_check_fails() {
        let text = "a ".repeat(CHECK_EVERY);
        let mut calls = 0;
        let e = measure(&text, 0, &mut || {
            calls += 1;
            Err(Error::new(Status::Cancelled, "stop"))
        })
        .unwrap_err();
        assert_eq!(e.status(), Status::Cancelled);
        assert_eq!(calls, 1);
    }
}
