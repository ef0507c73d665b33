//! What the confirmation window shows of a `kagi-tx:1` transaction (issue 16, "Flow" 2): computed
//! from the `tx` the broker parsed (the view's `tx`, every field in signing order), so plain data
//! in, plain text out, tested natively. The rule of the issue: every value shown is signed and
//! every signed field is shown; [`TxView::shown_fields`] says which rows show which fields, and a
//! test checks that together they are the schema.
//!
//! Display only (kagi-proto's `tx::display`): the amount as `12,345,678円` with its 万 reading,
//! dates with the weekday, half-width kana names folded to full width (the signature covers the
//! bank's bytes), a flag beside a name that may imitate another (a subset of UTS #39 §4). Codes
//! (`accountType`, the flags) are shown in words; nothing is shortened (the window wraps).

use kagi_proto::tx::display::{amount, amount_man, confusable, date_ja, fold_halfwidth_kana};
use kagi_proto::tx::Date;

use crate::i18n::{t, Lang, Msg};
use crate::json::Value;

/// One line of the window: a label, the text shown, the signed fields it shows, and whether the
/// value carries the look-alike flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub label: Msg,
    pub value: String,
    pub fields: &'static [&'static str],
    pub confusable: bool,
    /// An id for the element (`tx-<id>`), so tests and assistive technology can find it.
    pub id: &'static str,
}

/// A titled group of rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub title: Msg,
    pub rows: Vec<Row>,
}

/// The whole transaction as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxView {
    /// 取引種別, in words.
    pub kind: String,
    /// `12,345,678円`: shown large, and in the confirm button.
    pub amount: String,
    /// `1234万5678円`, under the amount.
    pub amount_man: String,
    /// `newCounterparty` = 1: the red 「初めての相手先です」.
    pub new_counterparty: bool,
    /// 相手先, 取引の内容, お客さま (the payer), in this order.
    pub groups: Vec<Group>,
}

impl TxView {
    /// Every signed field some part of the view shows (the kind and the amount included).
    pub fn shown_fields(&self) -> Vec<&'static str> {
        let mut v = vec!["kind", "amountYen"];
        for g in &self.groups {
            for r in &g.rows {
                v.extend_from_slice(r.fields);
            }
        }
        v
    }
}

/// The view of `tx` (the broker's parsed `tx`: an object of the schema's fields); `None` when a
/// value the window needs is missing or not in its form (the broker sends only parsed ones, so
/// the window then shows nothing rather than half a transaction).
pub fn transaction(lang: Lang, tx: &Value) -> Option<TxView> {
    let get = |k: &str| tx.get(k).and_then(Value::as_str);
    let kind = match get("kind")? {
        "densai.transfer/1" => Msg::TxKindTransfer,
        "densai.issue.debtor/1" => Msg::TxKindIssueDebtor,
        _ => return None,
    };
    let yen = get("amountYen")?.parse::<u64>().ok()?;
    let date = |k: &str| -> Option<String> {
        let d = Date::parse(get(k)?)?;
        Some(match lang {
            Lang::Ja => date_ja(d),
            Lang::En => {
                const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
                [get(k)?, " (", DAYS[usize::from(d.weekday())], ")"].concat()
            }
        })
    };
    let yes_no = |k: &str, yes: Msg, no: Msg| -> Option<String> {
        Some(t(lang, if get(k)? == "1" { yes } else { no }).to_owned())
    };
    let row = |label, value: String, fields, id| Row { label, value, fields, confusable: false, id };
    let party = |p: &'static [&'static str; 8], title: Msg, id: &'static [&'static str; 6]| -> Option<Group> {
        let name = get(p[1])?;
        let account = match get(p[6])? {
            "1" => Msg::TxAccountOrdinary,
            "2" => Msg::TxAccountCurrent,
            _ => Msg::TxAccountOther,
        };
        let with_code = |n: &str, c: &str| [fold_halfwidth_kana(n).as_str(), "（", c, "）"].concat();
        Some(Group {
            title,
            rows: vec![
                Row { label: Msg::TxUserName, value: fold_halfwidth_kana(name), fields: &p[1..2], confusable: confusable(name), id: id[0] },
                row(Msg::TxUserNo, get(p[0])?.to_owned(), &p[0..1], id[1]),
                row(Msg::TxBank, with_code(get(p[3])?, get(p[2])?), &p[2..4], id[2]),
                row(Msg::TxBranch, with_code(get(p[5])?, get(p[4])?), &p[4..6], id[3]),
                row(Msg::TxAccountType, t(lang, account).to_owned(), &p[6..7], id[4]),
                row(Msg::TxAccountNo, get(p[7])?.to_owned(), &p[7..8], id[5]),
            ],
        })
    };
    const COUNTERPARTY: [&str; 8] = [
        "counterparty.userNo", "counterparty.name", "counterparty.bankCode", "counterparty.bankName",
        "counterparty.branchCode", "counterparty.branchName", "counterparty.accountType", "counterparty.accountNo",
    ];
    const PAYER: [&str; 8] = [
        "payer.userNo", "payer.name", "payer.bankCode", "payer.bankName",
        "payer.branchCode", "payer.branchName", "payer.accountType", "payer.accountNo",
    ];
    let details = Group {
        title: Msg::TxDetails,
        rows: vec![
            row(Msg::TxDueDate, date("dueDate")?, &["dueDate"], "due-date"),
            row(Msg::TxRecordDate, date("recordDate")?, &["recordDate"], "record-date"),
            row(Msg::TxTransferRestricted, yes_no("transferRestricted", Msg::TxWith, Msg::TxWithout)?, &["transferRestricted"], "transfer-restricted"),
            row(Msg::TxGuarantee, yes_no("guarantee", Msg::TxWith, Msg::TxWithout)?, &["guarantee"], "guarantee"),
            row(Msg::TxNewCounterpartyRow, yes_no("newCounterparty", Msg::TxYes, Msg::TxNo)?, &["newCounterparty"], "new-counterparty-row"),
            row(Msg::TxRequestId, get("requestId")?.to_owned(), &["requestId"], "request-id"),
            row(Msg::TxRequestVersion, get("requestVersion")?.to_owned(), &["requestVersion"], "request-version"),
            row(Msg::TxRecordNumber, get("recordNumber")?.to_owned(), &["recordNumber"], "record-number"),
        ],
    };
    Some(TxView {
        kind: t(lang, kind).to_owned(),
        amount: amount(yen),
        amount_man: amount_man(yen),
        new_counterparty: get("newCounterparty")? == "1",
        groups: vec![
            party(&COUNTERPARTY, Msg::TxCounterparty, &["cp-name", "cp-user-no", "cp-bank", "cp-branch", "cp-account-type", "cp-account-no"])?,
            details,
            party(&PAYER, Msg::TxPayer, &["payer-name", "payer-user-no", "payer-bank", "payer-branch", "payer-account-type", "payer-account-no"])?,
        ],
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::json::json;

    /// A 譲渡記録請求 as the demo bank hands it to `confirmTransaction` (kagi-proto's golden
    /// vector); the broker's tests use it too.
    pub(crate) fn tx() -> Value {
        json!({
            "kind": "densai.transfer/1", "requestId": "TR-20261130-0001", "requestVersion": "1",
            "recordNumber": "20261130KG0000000001", "amountYen": "12345678",
            "recordDate": "2026-12-01", "dueDate": "2027-02-26",
            "payer.userNo": "123456789", "payer.name": "株式会社鍵商事", "payer.bankCode": "0999",
            "payer.bankName": "鍵デモ信用金庫", "payer.branchCode": "001", "payer.branchName": "本店",
            "payer.accountType": "1", "payer.accountNo": "1234567",
            "counterparty.userNo": "987654321", "counterparty.name": "ｶﾌﾞｼｷｶﾞｲｼｬ ﾐﾅﾐﾌﾞﾋﾝ",
            "counterparty.bankCode": "0999", "counterparty.bankName": "鍵デモ信用金庫",
            "counterparty.branchCode": "002", "counterparty.branchName": "駅前支店",
            "counterparty.accountType": "2", "counterparty.accountNo": "7654321",
            "transferRestricted": "0", "guarantee": "1", "newCounterparty": "1"
        })
    }

    fn value(v: &TxView, id: &str) -> String {
        v.groups.iter().flat_map(|g| &g.rows).find(|r| r.id == id).map(|r| r.value.clone()).unwrap_or_else(|| panic!("no row {id}"))
    }

    #[test]
    fn every_signed_field_is_shown_once() {
        let v = transaction(Lang::Ja, &tx()).unwrap();
        let mut shown = v.shown_fields();
        shown.sort_unstable();
        let mut schema: Vec<&str> = kagi_proto::tx::DENSAI_FIELDS.iter().map(|(n, _)| *n).collect();
        schema.sort_unstable();
        assert_eq!(shown, schema);
    }

    #[test]
    fn the_window_shows_the_bank_values_in_japanese() {
        let v = transaction(Lang::Ja, &tx()).unwrap();
        assert_eq!(v.kind, "譲渡記録請求");
        assert_eq!((v.amount.as_str(), v.amount_man.as_str()), ("12,345,678円", "1234万5678円"));
        assert!(v.new_counterparty);
        assert_eq!(value(&v, "cp-name"), "カブシキガイシャ ミナミブヒン", "half-width kana folded");
        assert_eq!(value(&v, "cp-bank"), "鍵デモ信用金庫（0999）");
        assert_eq!(value(&v, "cp-branch"), "駅前支店（002）");
        assert_eq!(value(&v, "cp-account-type"), "当座");
        assert_eq!(value(&v, "payer-account-type"), "普通");
        assert_eq!(value(&v, "cp-account-no"), "7654321");
        assert_eq!(value(&v, "due-date"), "2027年2月26日（金）");
        assert_eq!(value(&v, "record-date"), "2026年12月1日（火）");
        assert_eq!((value(&v, "transfer-restricted").as_str(), value(&v, "guarantee").as_str()), ("なし", "あり"));
        assert_eq!(value(&v, "record-number"), "20261130KG0000000001");
        let en = transaction(Lang::En, &tx()).unwrap();
        assert_eq!(value(&en, "due-date"), "2027-02-26 (Fri)");
    }

    #[test]
    fn look_alike_names_are_flagged() {
        let mut t = tx();
        assert!(!transaction(Lang::Ja, &t).unwrap().groups[0].rows[0].confusable);
        // 力 (kanji) among katakana: カブシキ力イシャ.
        t["counterparty.name"] = json!("カブシキ力イシャ");
        let v = transaction(Lang::Ja, &t).unwrap();
        assert!(v.groups[0].rows[0].confusable);
        assert!(!v.groups[2].rows[0].confusable, "the payer's name is not flagged");
    }

    #[test]
    fn amounts_at_the_ends_and_an_incomplete_tx_shows_nothing() {
        let mut t = tx();
        t["amountYen"] = json!("1");
        assert_eq!(transaction(Lang::Ja, &t).unwrap().amount, "1円");
        t["amountYen"] = json!("99999999999");
        let v = transaction(Lang::Ja, &t).unwrap();
        assert_eq!((v.amount.as_str(), v.amount_man.as_str()), ("99,999,999,999円", "999億9999万9999円"));
        if let Value::Object(m) = &mut t {
            m.remove("payer.accountNo");
        }
        assert_eq!(transaction(Lang::Ja, &t), None);
    }
}
