//! Text helpers the WebAssembly module can afford.

/// `text.split_once(needle)` for an ASCII `needle`, found by comparing bytes: a
/// substring search costs the module ~2 KB, and slicing by index, whose panic path
/// formats the string it failed on, another ~4 KB. An ASCII match always starts
/// and ends on character boundaries, so both halves are whole.
pub(crate) fn split_once_ascii<'a>(text: &'a str, needle: &[u8]) -> Option<(&'a str, &'a str)> {
    let at = text.as_bytes().windows(needle.len()).position(|window| window == needle)?;
    Some((text.get(..at)?, text.get(at + needle.len()..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_around_the_first_match_as_split_once_does() {
        for (text, needle) in
            [("http://a://b", "://"), ("1::2::3", "::"), ("::", "::"), ("é::ü", "::"), ("ab", "::"), ("", "::")]
        {
            assert_eq!(split_once_ascii(text, needle.as_bytes()), text.split_once(needle), "{text:?} at {needle:?}");
        }
    }
}
