//! Addresses as rotki's asset schemas read them: a Solana address (32 bytes in base58) as
//! given, else an EVM address, checksummed.

/// An address filter as rotki's schemas read it: a Solana address (32 bytes in base58)
/// as given, else an EVM address in its checksummed form; `None` when it is neither.
pub(super) fn parse_address(address: &str) -> Option<String> {
    if is_solana_address(address) {
        return Some(address.to_string());
    }
    checksum_address(address)
}

/// `len(b58decode(address)) == 32`; b58decode first strips trailing whitespace.
fn is_solana_address(address: &str) -> bool {
    let trimmed = address.trim_end_matches(super::python_space);
    matches!(bs58::decode(trimmed).into_vec(), Ok(bytes) if bytes.len() == 32)
}

/// eth_utils' `to_checksum_address`: `0x` (or `0X`) optional, then 40 hex digits, written
/// back with EIP-55 capitals.
fn checksum_address(address: &str) -> Option<String> {
    use sha3::{Digest, Keccak256};
    let hex = address.strip_prefix("0x").or_else(|| address.strip_prefix("0X")).unwrap_or(address);
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let lower = hex.to_ascii_lowercase();
    let hash = Keccak256::digest(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0xf;
        out.push(if nibble >= 8 { c.to_ascii_uppercase() } else { c });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_rotki_reads_them() {
        let lower = "0x6b175474e89094c44da98b954eedeac495271d0f";
        let want = "0x6B175474E89094C44Da98b954EedeAC495271d0F";
        assert_eq!(checksum_address(lower).as_deref(), Some(want));
        assert_eq!(checksum_address(&lower[2..]).as_deref(), Some(want));
        assert_eq!(checksum_address("0X6B175474E89094C44DA98B954EEDEAC495271D0F").as_deref(), Some(want));
        assert_eq!(checksum_address("0x6b17"), None);
        assert_eq!(checksum_address(" 0x6b175474e89094c44da98b954eedeac495271d0f"), None);
        let usdc_sol = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
        assert!(is_solana_address(usdc_sol));
        assert!(is_solana_address(&format!("{usdc_sol} \n")));
        assert_eq!(parse_address(usdc_sol).as_deref(), Some(usdc_sol));
        assert!(!is_solana_address("EPjFWdd5AufqSSqeM2qN1xzybapC8G4"));
        assert!(!is_solana_address(lower));
    }
}
