//! Mainland China mobile numbers, as people type them.

/// The eleven digits of a mainland mobile number (1[3-9]xxxxxxxxx), with any +86 / 0086 prefix,
/// spaces and dashes removed; `None` when it is not one.
pub fn mobile(input: &str) -> Option<String> {
    let digits: String = input
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    let digits = digits
        .strip_prefix("+86")
        .or_else(|| digits.strip_prefix("0086"))
        .unwrap_or(&digits);
    let bytes = digits.as_bytes();
    let valid = bytes.len() == 11
        && bytes.iter().all(u8::is_ascii_digit)
        && bytes[0] == b'1'
        && (b'3'..=b'9').contains(&bytes[1]);
    valid.then(|| digits.to_owned())
}

#[cfg(test)]
mod tests {
    use super::mobile;

    #[test]
    fn reads_mobile_numbers_as_typed() {
        assert_eq!(mobile("+86 138-0023-4567").as_deref(), Some("13800234567"));
        assert_eq!(mobile("008613800234567").as_deref(), Some("13800234567"));
        for bad in [
            "12800234567",
            "1380023456",
            "023-88888888",
            "1380023456x",
            "",
        ] {
            assert_eq!(mobile(bad), None, "{bad}");
        }
    }
}
