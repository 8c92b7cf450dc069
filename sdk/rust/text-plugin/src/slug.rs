//! Slugs: URL- and file-name-friendly forms of a title ("Crème Brûlée, 2nd try" ->
//! "creme-brulee-2nd-try").

/// How to make a slug.
pub struct SlugOptions {
    /// Between words: '-', '_' or '.'.
    pub separator: char,
    /// The longest slug, in characters. The slug is cut at a word boundary when one is within
    /// reach, else inside the word.
    pub max_length: usize,
    /// Fold accented Latin letters to ASCII ("é" -> "e", "ß" -> "ss") and drop every other
    /// non-ASCII character; otherwise keep Unicode letters and digits (lowercased).
    pub ascii: bool,
}

/// The slug of `text`: its letters and digits, lowercased, words joined by the separator.
/// Empty when `text` has no letter or digit that the options keep.
pub fn slugify(text: &str, options: &SlugOptions) -> String {
    let mut slug = String::new();
    let mut pending_separator = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || (!options.ascii && c.is_alphanumeric()) {
            push(&mut slug, &mut pending_separator, options.separator, c);
        } else if let (true, Some(folded)) = (options.ascii, fold(c)) {
            for f in folded.chars() {
                push(&mut slug, &mut pending_separator, options.separator, f);
            }
        } else if c != '\'' && c != '\u{2019}' {
            // Apostrophes join ("don't" -> "dont"); everything else separates words.
            pending_separator = true;
        }
    }
    truncate(slug, options.separator, options.max_length)
}

/// Appends `c`, after a separator when one is pending and the slug has started.
fn push(slug: &mut String, pending_separator: &mut bool, separator: char, c: char) {
    if *pending_separator && !slug.is_empty() {
        slug.push(separator);
    }
    *pending_separator = false;
    slug.push(c);
}

/// Cuts `slug` to at most `max` characters, at the last separator when that keeps at least
/// half of it, and never ends on a separator.
fn truncate(slug: String, separator: char, max: usize) -> String {
    if slug.chars().count() <= max {
        return slug;
    }
    let cut: String = slug.chars().take(max).collect();
    let next_is_separator = slug.chars().nth(max) == Some(separator);
    let cut = if next_is_separator {
        cut
    } else {
        match cut.rfind(separator) {
            Some(at) if cut[..at].chars().count() * 2 >= max => cut[..at].to_owned(),
            _ => cut,
        }
    };
    cut.trim_end_matches(separator).to_owned()
}

/// The ASCII spelling of a lowercase Latin letter with a diacritic, for the letters of the
/// Latin-1 Supplement and Latin Extended-A blocks that European languages use.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĳ' => "ij",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(text: &str) -> String {
        slugify(
            text,
            &SlugOptions {
                separator: '-',
                max_length: 80,
                ascii: true,
            },
        )
    }

    #[test]
    fn makes_slugs_of_titles() {
        assert_eq!(slug("Crème Brûlée, 2nd try!"), "creme-brulee-2nd-try");
        assert_eq!(slug("  Hello,   World  "), "hello-world");
        assert_eq!(slug("Don't stop"), "dont-stop");
        assert_eq!(slug("Straße & Œuvre"), "strasse-oeuvre");
        assert_eq!(slug("日本語 text"), "text");
        assert_eq!(slug("!!!"), "");
        assert_eq!(slug("ÀÉÎ"), "aei");
    }

    #[test]
    fn keeps_unicode_letters_without_ascii() {
        let o = SlugOptions {
            separator: '_',
            max_length: 80,
            ascii: false,
        };
        assert_eq!(slugify("日本語 Text Ünï", &o), "日本語_text_ünï");
    }

    #[test]
    fn cuts_long_slugs_at_a_word_boundary() {
        let o = |max| SlugOptions {
            separator: '-',
            max_length: max,
            ascii: true,
        };
        assert_eq!(slugify("one two three", &o(9)), "one-two");
        assert_eq!(slugify("one two three", &o(7)), "one-two");
        assert_eq!(slugify("one two three", &o(8)), "one-two");
        assert_eq!(slugify("abcdefghij klm", &o(5)), "abcde");
        assert_eq!(slugify("a bcdefghijkl", &o(6)), "a-bcde");
    }
}
