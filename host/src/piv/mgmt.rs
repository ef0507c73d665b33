//! Card management key authentication (mutual authentication with the PIV Card Application
//! Administration Key, key reference `9B`), sans-IO.
//!
//! SP 800-73-4 Part 2 Appendix A.1 / Part 1 Table 7 (Dynamic Authentication Template `7C`):
//! 1. host → card: GENERAL AUTHENTICATE `7C { 80 00 }` — request a witness;
//! 2. card → host: `7C { 80 E(K, W) }`;
//! 3. host → card: `7C { 80 W, 81 C }` — the decrypted witness and a fresh random challenge;
//! 4. card → host: `7C { 82 E(K, C) }`, which the host checks: the card proves it holds K too.
//!
//! Ciphers are single-block ECB: 3DES (EDE, 24-byte key, 8-byte block) or AES (16-byte block).

use aes::cipher::{Block, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::piv::apdu::Command;
use crate::piv::objects::{ManagementAlgorithm, ManagementKey, KEYREF_MANAGEMENT};
use crate::piv::tlv;

/// GENERAL AUTHENTICATE INS.
pub const INS_GENERAL_AUTHENTICATE: u8 = 0x87;

fn ecb<C>(key: &[u8], block: &mut [u8], encrypt: bool) -> Result<()>
where
    C: KeyInit + BlockCipherEncrypt + BlockCipherDecrypt,
{
    let cipher = C::new_from_slice(key).map_err(|_| Error::Internal("management key length".into()))?;
    let b: &mut Block<C> = block
        .try_into()
        .map_err(|_| Error::Internal("management key block length".into()))?;
    if encrypt {
        cipher.encrypt_block(b);
    } else {
        cipher.decrypt_block(b);
    }
    Ok(())
}

/// Encrypt (or decrypt) one block in place with the management key.
pub fn crypt_block(key: &ManagementKey, block: &mut [u8], encrypt: bool) -> Result<()> {
    let k = key.key_bytes();
    match key.algorithm() {
        ManagementAlgorithm::TripleDes => ecb::<des::TdesEde3>(k, block, encrypt),
        ManagementAlgorithm::Aes128 => ecb::<aes::Aes128>(k, block, encrypt),
        ManagementAlgorithm::Aes192 => ecb::<aes::Aes192>(k, block, encrypt),
        ManagementAlgorithm::Aes256 => ecb::<aes::Aes256>(k, block, encrypt),
    }
}

/// Step 1: ask the card for a witness. `00 87 <alg> 9B 04 7C 02 80 00 00`.
pub fn witness_request(alg: ManagementAlgorithm) -> Command {
    Command::new(0x00, INS_GENERAL_AUTHENTICATE, alg.id(), KEYREF_MANAGEMENT)
        .with_data(vec![0x7C, 0x02, 0x80, 0x00])
        .with_le(256)
}

/// The host's half of a mutual authentication in progress: holds the challenge it sent.
pub struct MutualAuth {
    challenge: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for MutualAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MutualAuth(<challenge>)")
    }
}

impl MutualAuth {
    /// Step 2–3: decrypt the card's witness (response data `7C { 80 E(K,W) }`) and build the
    /// command `7C { 80 W, 81 C }` with a random challenge C from the OS RNG.
    pub fn respond(key: &ManagementKey, witness_response: &[u8]) -> Result<(Self, Command)> {
        let mut challenge = Zeroizing::new(vec![0u8; key.algorithm().block_len()]);
        getrandom::fill(&mut challenge)
            .map_err(|e| Error::Internal(format!("random challenge: {e}")))?;
        Self::respond_with_challenge(key, witness_response, challenge)
    }

    /// As [`respond`](Self::respond) with a given challenge (for tests).
    pub fn respond_with_challenge(
        key: &ManagementKey,
        witness_response: &[u8],
        challenge: Zeroizing<Vec<u8>>,
    ) -> Result<(Self, Command)> {
        let alg = key.algorithm();
        let inner = tlv::expect_single(witness_response, 0x7C, "management key witness")?;
        let w = tlv::exactly_one(inner, 0x80, "management key witness 7C")?;
        if w.len() != alg.block_len() {
            return Err(Error::Malformed(format!(
                "management key witness 7C: tag 80 has {} bytes, want {} for {alg:?}",
                w.len(),
                alg.block_len()
            )));
        }
        if challenge.len() != alg.block_len() {
            return Err(Error::Internal("challenge length".into()));
        }
        let mut witness = Zeroizing::new(w.to_vec());
        crypt_block(key, &mut witness, false)?;
        let mut body = Zeroizing::new(Vec::with_capacity(4 + 2 * witness.len()));
        tlv::encode_into(0x80, &witness, &mut body);
        tlv::encode_into(0x81, &challenge, &mut body);
        let data = tlv::encode(0x7C, &body);
        let cmd = Command::new(0x00, INS_GENERAL_AUTHENTICATE, alg.id(), KEYREF_MANAGEMENT)
            .with_data(data)
            .with_le(256);
        Ok((MutualAuth { challenge }, cmd))
    }

    /// Step 4: check the card's `7C { 82 E(K,C) }`. A wrong value means the card does not hold
    /// our key (or is not the card we talk to): `Error::ManagementKeyRejected`.
    pub fn verify(self, key: &ManagementKey, response: &[u8]) -> Result<()> {
        let inner = tlv::expect_single(response, 0x7C, "management key response")?;
        let got = tlv::exactly_one(inner, 0x82, "management key response 7C")?;
        let mut expect = Zeroizing::new(self.challenge.to_vec());
        crypt_block(key, &mut expect, true)?;
        // Constant-time comparison (not secret here, but cheap).
        let same = got.len() == expect.len()
            && got.iter().zip(expect.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if same {
            Ok(())
        } else {
            Err(Error::ManagementKeyRejected)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tdes_known_answer() {
        // NIST SP 800-67 / FIPS 46 classic vector: DES key 0123456789ABCDEF,
        // plaintext "Now is t" (4E6F772069732074) → 3FA40E8A984D4815. With K1=K2=K3 3DES = DES.
        let k = ManagementKey::new(
            ManagementAlgorithm::TripleDes,
            &hex::decode("0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF").unwrap(),
        )
        .unwrap();
        let mut b = hex::decode("4E6F772069732074").unwrap();
        crypt_block(&k, &mut b, true).unwrap();
        assert_eq!(hex::encode(&b), "3fa40e8a984d4815");
        crypt_block(&k, &mut b, false).unwrap();
        assert_eq!(hex::encode(&b), "4e6f772069732074");
    }

    #[test]
    fn aes_known_answer() {
        // FIPS 197 appendix C.1.
        let k = ManagementKey::new(
            ManagementAlgorithm::Aes128,
            &hex::decode("000102030405060708090a0b0c0d0e0f").unwrap(),
        )
        .unwrap();
        let mut b = hex::decode("00112233445566778899aabbccddeeff").unwrap();
        crypt_block(&k, &mut b, true).unwrap();
        assert_eq!(hex::encode(&b), "69c4e0d86a7b0430d8cdb78070b4c55a");
        // FIPS 197 C.2 (AES-192) and C.3 (AES-256).
        let k = ManagementKey::new(
            ManagementAlgorithm::Aes192,
            &hex::decode("000102030405060708090a0b0c0d0e0f1011121314151617").unwrap(),
        )
        .unwrap();
        let mut b = hex::decode("00112233445566778899aabbccddeeff").unwrap();
        crypt_block(&k, &mut b, true).unwrap();
        assert_eq!(hex::encode(&b), "dda97ca4864cdfe06eaf70a0ec0d7191");
        let k = ManagementKey::new(
            ManagementAlgorithm::Aes256,
            &hex::decode("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f").unwrap(),
        )
        .unwrap();
        let mut b = hex::decode("00112233445566778899aabbccddeeff").unwrap();
        crypt_block(&k, &mut b, true).unwrap();
        assert_eq!(hex::encode(&b), "8ea2b7ca516745bfeafc49904b496089");
    }

    /// Plays the card's side with the same key.
    fn card_encrypt(key: &ManagementKey, data: &[u8]) -> Vec<u8> {
        let mut b = data.to_vec();
        crypt_block(key, &mut b, true).unwrap();
        b
    }

    #[test]
    fn full_exchange_default_key() {
        let key = ManagementKey::default();
        assert_eq!(
            &witness_request(key.algorithm()).to_bytes().unwrap()[..],
            &[0x00, 0x87, 0x03, 0x9B, 0x04, 0x7C, 0x02, 0x80, 0x00, 0x00]
        );
        let witness = [0x11u8, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
        let enc_w = card_encrypt(&key, &witness);
        let mut resp = vec![0x7C, 0x0A, 0x80, 0x08];
        resp.extend_from_slice(&enc_w);
        let challenge = Zeroizing::new(vec![0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7]);
        let (state, cmd) = MutualAuth::respond_with_challenge(&key, &resp, challenge.clone()).unwrap();
        let mut expect = vec![0x7C, 0x14, 0x80, 0x08];
        expect.extend_from_slice(&witness);
        expect.extend_from_slice(&[0x81, 0x08]);
        expect.extend_from_slice(&challenge);
        assert_eq!(cmd.data, expect);
        assert_eq!((cmd.p1, cmd.p2), (0x03, 0x9B));
        let mut answer = vec![0x7C, 0x0A, 0x82, 0x08];
        answer.extend_from_slice(&card_encrypt(&key, &challenge));
        state.verify(&key, &answer).unwrap();
    }

    #[test]
    fn wrong_card_answer_is_rejected() {
        let key = ManagementKey::from_hex(&"42".repeat(32), None).unwrap();
        let mut resp = vec![0x7C, 0x12, 0x80, 0x10];
        resp.extend_from_slice(&[9; 16]);
        let (state, cmd) = MutualAuth::respond(&key, &resp).unwrap();
        assert_eq!(cmd.p1, 0x0C);
        let answer = [0x7C, 0x12, 0x82, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(state.verify(&key, &answer), Err(Error::ManagementKeyRejected)));
    }

    #[test]
    fn malformed_witness() {
        let key = ManagementKey::default();
        let e = MutualAuth::respond(&key, &[0x7C, 0x02, 0x81, 0x00]).unwrap_err().to_string();
        assert!(e.contains("missing tag 80"), "{e}");
        let e = MutualAuth::respond(&key, &[0x7C, 0x04, 0x80, 0x02, 1, 2]).unwrap_err().to_string();
        assert!(e.contains("want 8"), "{e}");
        assert!(MutualAuth::respond(&key, &[0x7C, 0x0A, 0x80, 0x08, 1]).is_err());
    }
}
