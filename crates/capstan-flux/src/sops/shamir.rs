//! Shamir's secret sharing over GF(2^8), as SOPS splits a data key across key groups.
//!
//! Each share is the secret's bytes evaluated on one random polynomial per byte, followed by
//! the share's x coordinate. Combining interpolates every byte's polynomial at x = 0. The
//! field is GF(2^8) with the AES reduction polynomial x^8 + x^4 + x^3 + x + 1.

use zeroize::Zeroizing;

fn mult(a: u8, b: u8) -> u8 {
    let mut product = 0u8;
    let (mut a, mut b) = (a, b);
    while b != 0 {
        if b & 1 != 0 {
            product ^= a;
        }
        let carry = a & 0x80 != 0;
        a <<= 1;
        if carry {
            a ^= 0x1b;
        }
        b >>= 1;
    }
    product
}

/// a^254, the multiplicative inverse of a non-zero element.
fn inverse(a: u8) -> u8 {
    let mut result = 1u8;
    for _ in 0..254 {
        result = mult(result, a);
    }
    result
}

/// Rebuilds the secret from at least two shares with distinct x coordinates.
pub(crate) fn combine(shares: &[&[u8]]) -> Result<Vec<u8>, String> {
    if shares.len() < 2 {
        return Err("at least two key-group shares are needed to rebuild the data key".into());
    }
    let length = shares[0].len();
    if length < 2 || shares.iter().any(|s| s.len() != length) {
        return Err("the key-group shares have different or too short lengths".into());
    }
    let xs: Vec<u8> = shares.iter().map(|s| s[length - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if *x == 0 || xs[..i].contains(x) {
            return Err("the key-group shares are duplicated or malformed".into());
        }
    }
    let mut secret = Zeroizing::new(vec![0u8; length - 1]);
    for (index, byte) in secret.iter_mut().enumerate() {
        let mut value = 0u8;
        for (i, share) in shares.iter().enumerate() {
            let mut basis = 1u8;
            for (j, xj) in xs.iter().enumerate() {
                if i != j {
                    // (0 - xj) / (xi - xj); subtraction is XOR in GF(2^8).
                    basis = mult(basis, mult(*xj, inverse(xs[i] ^ xj)));
                }
            }
            value ^= mult(share[index], basis);
        }
        *byte = value;
    }
    Ok(secret.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits like SOPS (for tests): polynomial coefficients from `coefficients`.
    fn split(secret: &[u8], threshold: usize, parts: u8, seed: u8) -> Vec<Vec<u8>> {
        (1..=parts)
            .map(|x| {
                let mut share: Vec<u8> = secret
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| {
                        // p(x) = s + c1 x + c2 x^2 ... with fixed pseudo-random coefficients
                        let mut y = s;
                        let mut power = 1u8;
                        for k in 1..threshold {
                            power = mult(power, x);
                            let c = seed.wrapping_mul(31).wrapping_add((i * 7 + k * 13) as u8) | 1;
                            y ^= mult(c, power);
                        }
                        y
                    })
                    .collect();
                share.push(x);
                share
            })
            .collect()
    }

    #[test]
    fn field_inverse_is_an_inverse() {
        for a in 1..=255u8 {
            assert_eq!(mult(a, inverse(a)), 1, "{a}");
        }
    }

    #[test]
    fn any_threshold_of_shares_rebuilds_the_secret() {
        let secret: Vec<u8> = (0..32).map(|i| i * 5 + 3).collect();
        let shares = split(&secret, 2, 3, 9);
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            assert_eq!(
                combine(&[&shares[a], &shares[b]]).expect("combines"),
                secret
            );
        }
        assert_eq!(
            combine(&[&shares[0], &shares[1], &shares[2]]).expect("combines"),
            secret
        );
        let three = split(&secret, 3, 3, 4);
        assert_eq!(
            combine(&[&three[0], &three[1], &three[2]]).expect("combines"),
            secret
        );
    }

    #[test]
    fn malformed_shares_are_errors() {
        assert!(combine(&[&[1, 1]]).is_err());
        assert!(combine(&[&[1, 1], &[1, 2, 3]]).is_err());
        assert!(combine(&[&[1, 1], &[2, 1]]).is_err());
        assert!(combine(&[&[1, 0], &[2, 1]]).is_err());
    }
}
