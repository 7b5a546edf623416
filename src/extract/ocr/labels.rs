//! The printed words of the official tables, to which a label cell read by OCR is matched: OCR
//! misreads a character or two of a label (`作期不补正` for `逾期不补正`), and the parser finds
//! rows by their words. A cell whose reading is close to one official label, and clearly closer
//! to it than to any other, is written as that label; any other cell keeps what was read.

/// The labels and header words the official forms print (both the 2019 and the 2021 form).
const LABELS: &[&str] = &[
    // Table 2.
    "信息内容",
    "本年制发件数",
    "本年废止件数",
    "现行有效件数",
    "本年新制作数量",
    "本年新公开数量",
    "对外公开总数量",
    "规章",
    "行政规范性文件",
    "规范性文件",
    "行政许可",
    "其他对外管理服务事项",
    "本年处理决定数量",
    "上一年项目数量",
    "本年增/减",
    "处理决定数量",
    "行政处罚",
    "行政强制",
    "本年收费金额(单位:万元)",
    "行政事业性收费",
    "采购项目数量",
    "采购总金额",
    "政府集中采购",
    // Table 3.
    "(本列数据的勾稽关系为:第一项加第二项之和,等于第三项加第四项之和)",
    "申请人情况",
    "自然人",
    "法人或其他组织",
    "商业企业",
    "科研机构",
    "社会公益组织",
    "法律服务机构",
    "其他",
    "总计",
    "一、本年新收政府信息公开申请数量",
    "二、上年结转政府信息公开申请数量",
    "三、本年度办理结果",
    "(一)予以公开",
    "(二)部分公开(区分处理的,只计这一情形,不计其他情形)",
    "(三)不予公开",
    "1.属于国家秘密",
    "2.其他法律行政法规禁止公开",
    "3.危及“三安全一稳定”",
    "4.保护第三方合法权益",
    "5.属于三类内部事务信息",
    "6.属于四类过程性信息",
    "7.属于行政执法案卷",
    "8.属于行政查询事项",
    "(四)无法提供",
    "1.本机关不掌握相关政府信息",
    "2.没有现成信息需要另行制作",
    "3.补正后申请内容仍不明确",
    "(五)不予处理",
    "1.信访举报投诉类申请",
    "2.重复申请",
    "3.要求提供公开出版物",
    "4.无正当理由大量反复申请",
    "5.要求行政机关确认或重新出具已获取信息",
    "(六)其他处理",
    "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
    "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
    "3.其他",
    "(七)总计",
    "四、结转下年度继续办理",
    // Table 4.
    "行政复议",
    "行政诉讼",
    "未经复议直接起诉",
    "复议后起诉",
    "结果维持",
    "结果纠正",
    "其他结果",
    "尚未审结",
];

/// How close a reading must be to a label (twice their longest common subsequence over their
/// lengths), and by how much closer than to the next label.
const CLOSE: f64 = 0.7;
const MARGIN: f64 = 0.1;

/// What the comparison looks at: Chinese characters and digits.
fn key(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| c.is_ascii_digit() || super::is_han(c))
        .collect()
}

fn common(a: &[char], b: &[char]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for &x in a {
        let mut diagonal = 0;
        for (j, &y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x == y {
                diagonal + 1
            } else {
                above.max(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The official label a cell's reading stands for, when it is one.
pub fn snap(text: &str) -> Option<&'static str> {
    let k = key(text);
    if k.len() < 2 || k.len() > 60 || !k.iter().any(|c| !c.is_ascii_digit()) {
        return None;
    }
    // The labels' keys, made once.
    static KEYS: std::sync::OnceLock<Vec<Vec<char>>> = std::sync::OnceLock::new();
    let keys = KEYS.get_or_init(|| LABELS.iter().map(|l| key(l)).collect());
    let mut scores: Vec<(f64, &'static str)> = LABELS
        .iter()
        .zip(keys)
        .map(|(l, lk)| {
            let score = 2.0 * common(&k, lk) as f64 / (k.len() + lk.len()) as f64;
            (score, *l)
        })
        .collect();
    scores.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (best, label) = scores[0];
    let next = scores.get(1).map_or(0.0, |s| s.0);
    (best >= CLOSE && best - next >= MARGIN).then_some(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misread_labels_are_matched_and_others_left() {
        assert_eq!(
            snap("1、申请人无正当理由作期不补正、行政机关不再处理其政府信息公开申请"),
            Some("1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请")
        );
        assert_eq!(snap("(三)不子公开"), Some("(三)不予公开"));
        assert_eq!(snap("7.属于行政执法凿卷"), Some("7.属于行政执法案卷"));
        assert_eq!(snap("3、其他"), Some("3.其他"));
        assert_eq!(snap("《一)予以公开"), Some("(一)予以公开"));
        // Not close to any one label.
        assert_eq!(snap("淮安市人民政府办公室"), None);
        assert_eq!(snap("58"), None);
        assert_eq!(snap("了"), None);
    }
}
