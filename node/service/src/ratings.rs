//! The applicant's rating (好差评) from every channel: the hall's tablet,
//! the public progress page, and the QR code printed on a case's
//! documents. One rating per case, whatever the channel
//! ([`onewindow_domain::case::CaseError::AlreadyRated`]); the channel is
//! recorded in the `rated` event.
//!
//! A QR code carries a link to the hall's public rating page with the case
//! number and a key: the first 128 bits of the hall's Ed25519 signature
//! (its document key) over the case number, in hex. Ed25519 signatures
//! are deterministic, so the hall checks a key by making it again and
//! stores nothing; a key cannot be guessed, and it opens nothing but the
//! rating of its own case at the hall that made it. The SMS sent when a
//! case is completed carries an 8-digit rating code made the same way
//! (another context, the signature reduced to 8 decimal digits), entered
//! on the public rating page with the case number (channel `sms`).
//! Everything else a
//! rating needs, the progress query's key included, is the progress
//! query's, so a rating tells nobody more than the progress query does.

use crate::Node;
use crate::cases::case_not_found;
use crate::error::{Error, ErrorKind};
use crate::views::Progress;
use onewindow_domain::case::{Actor, Channel, Event, Role};
use onewindow_domain::case_number::CaseNumber;

/// What a hall signs to make a case's rating key (domain separation).
const RATING_KEY_CONTEXT: &[u8] = b"onewindow rating link v1\n";
/// What a hall signs to make a case's SMS rating code.
const SMS_CODE_CONTEXT: &[u8] = b"onewindow rating sms v1\n";
/// Bytes of the signature a key keeps.
const RATING_KEY_BYTES: usize = 16;
/// The longest comment, in characters.
const MAX_COMMENT: usize = 1000;

/// Compares two texts in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

impl Node {
    /// The key of a case's rating link (a case number as the window
    /// prints it).
    pub fn rating_key(&self, number: &str) -> String {
        let mut msg = RATING_KEY_CONTEXT.to_vec();
        msg.extend_from_slice(number.as_bytes());
        let sig = self.document_key.sign(&msg);
        hex::encode(&sig[..RATING_KEY_BYTES.min(sig.len())])
    }

    /// The 8-digit rating code of a case's SMS (a case number as the
    /// window prints it).
    pub fn sms_code(&self, number: &str) -> String {
        let mut msg = SMS_CODE_CONTEXT.to_vec();
        msg.extend_from_slice(number.as_bytes());
        let sig = self.document_key.sign(&msg);
        let mut head = [0u8; 8];
        for (d, s) in head.iter_mut().zip(sig.iter()) {
            *d = *s;
        }
        format!("{:08}", u64::from_be_bytes(head) % 100_000_000)
    }

    /// Checks an SMS rating code; a wrong or malformed one is refused
    /// (`bad_sms_code`), as is an unknown number's.
    pub fn check_sms_code(&self, number: &str, code: &str) -> Result<String, Error> {
        let refused = || Error::new(ErrorKind::Invalid, "bad_sms_code", &[]);
        let number = CaseNumber::parse(number.trim())
            .map_err(|_| refused())?
            .to_string();
        if same(&self.sms_code(&number), code.trim()) {
            Ok(number)
        } else {
            Err(refused())
        }
    }

    /// The applicant's rating with the code of the SMS sent on
    /// completion; the channel is `sms`.
    pub async fn rate_by_sms(
        &self,
        number: &str,
        code: &str,
        score: u8,
        comment: String,
    ) -> Result<Progress, Error> {
        check_comment(&comment)?;
        let number = self.check_sms_code(number, code)?;
        self.write_rating(&number, score, Channel::Sms, comment)
            .await
    }

    /// The link a case's documents carry in their rating QR code: this
    /// hall's public rating page with the case number and its key.
    pub fn rating_link(&self, number: &str) -> String {
        format!(
            "{}/rate?n={number}&k={}",
            self.public_url(),
            self.rating_key(number)
        )
    }

    /// Checks a rating link's key; a wrong or malformed one is refused
    /// (`bad_rating_link`), as is an unknown number's.
    pub fn check_rating_key(&self, number: &str, key: &str) -> Result<String, Error> {
        let refused = || Error::new(ErrorKind::Invalid, "bad_rating_link", &[]);
        let number = CaseNumber::parse(number)
            .map_err(|_| refused())?
            .to_string();
        if same(&self.rating_key(&number), key.trim()) {
            Ok(number)
        } else {
            Err(refused())
        }
    }

    /// The applicant's rating, keyed as the progress query is (the case
    /// number and the last four characters of the ID), from `channel`.
    pub async fn rate(
        &self,
        number: &str,
        last4: &str,
        score: u8,
        channel: Channel,
        comment: String,
    ) -> Result<Progress, Error> {
        check_comment(&comment)?;
        self.progress(number, last4).await?;
        let number = CaseNumber::parse(number)?.to_string();
        self.write_rating(&number, score, channel, comment).await
    }

    /// The applicant's rating from a document's QR code: the link's key in
    /// place of the ID's last four characters; the channel is `qr_code`.
    pub async fn rate_by_link(
        &self,
        number: &str,
        key: &str,
        score: u8,
        comment: String,
    ) -> Result<Progress, Error> {
        check_comment(&comment)?;
        let number = self.check_rating_key(number, key)?;
        self.write_rating(&number, score, Channel::QrCode, comment)
            .await
    }

    /// The case a rating link names, as the progress query shows it (the
    /// link is its key).
    pub async fn progress_by_link(&self, number: &str, key: &str) -> Result<Progress, Error> {
        let number = self.check_rating_key(number, key)?;
        let row = self
            .store
            .case(&number)
            .await?
            .ok_or_else(|| case_not_found(&number))?;
        Ok(self.progress_view(&row))
    }

    async fn write_rating(
        &self,
        number: &str,
        score: u8,
        channel: Channel,
        comment: String,
    ) -> Result<Progress, Error> {
        let actor = Actor {
            username: "citizen".to_owned(),
            role: Role::Citizen,
            node: self.id.to_string(),
            department: None,
        };
        self.write_event_as(
            number,
            actor,
            Event::Rated {
                score,
                channel,
                comment,
            },
        )
        .await?;
        let row = self
            .store
            .case(number)
            .await?
            .ok_or_else(|| case_not_found(number))?;
        Ok(self.progress_view(&row))
    }
}

fn check_comment(comment: &str) -> Result<(), Error> {
    if comment.chars().count() > MAX_COMMENT {
        return Err(Error::keyed(
            ErrorKind::Invalid,
            "field_too_long",
            "err.field_too_long.comment",
            &[],
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_compares_whole_texts() {
        assert!(super::same("abc", "abc"));
        assert!(!super::same("abc", "abd"));
        assert!(!super::same("abc", "ab"));
        assert!(!super::same("", "a"));
    }
}
