//! Human-readable sizes and byte-count parsing shared by the subcommands.

/// `1.5 GiB`-style size, exact bytes below 1 KiB.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

/// Parses `262144`, `256K`, `256KiB`, `4M`, `4MiB`, `1G` (binary units, case-insensitive).
pub(crate) fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as 262144, 256K or 4M"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => return Err(format!("unknown size unit `{other}` (use K, M or G)")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(1000), "1000 B");
        assert_eq!(size(1536), "1.50 KiB");
        assert_eq!(size(2 << 30), "2.00 GiB");
        assert_eq!(parse_bytes("4M"), Ok(4 << 20));
        assert_eq!(parse_bytes("256KiB"), Ok(256 << 10));
        assert_eq!(parse_bytes("16384"), Ok(16384));
        assert!(parse_bytes("4X").is_err());
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("99999999999999G").is_err());
    }
}
