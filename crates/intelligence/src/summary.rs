//! Extractive summary: TextRank over the call's sentences (similarity =
//! shared content words over the log of the lengths), the few
//! best-ranked sentences kept in call order with their speaker.

use serde::{Deserialize, Serialize};
use switchboard_domain::transcript::Speaker;

use crate::keywords::SegTokens;
use crate::text::{Evidence, is_stop_word, sentences};

/// The summary engine on the box.
pub const ENGINE: &str = "builtin";

/// A summary: the text, which engine wrote it, and the sentences it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub text: String,
    pub engine: String,
    pub sentences: Vec<SummarySentence>,
}

/// One sentence of a summary, where it was said and by whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummarySentence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<Speaker>,
    pub evidence: Evidence,
}

/// Sentences considered at most (the longest are kept beyond that), so a
/// huge transcript stays linear-ish.
const MAX_SENTENCES: usize = 300;

fn stem(w: &str) -> &str {
    if w.len() > 4 && w.ends_with('s') && !w.ends_with("ss") { &w[..w.len() - 1] } else { w }
}

/// Summarises a transcript in at most `max` sentences.
pub fn summarize(doc: &[SegTokens<'_>], speakers: &[Option<Speaker>], max: usize) -> Summary {
    struct Sent<'a> {
        seg: usize,
        start: usize,
        end: usize,
        words: Vec<&'a str>,
    }
    let mut sents: Vec<Sent<'_>> = Vec::new();
    for (d, s) in doc.iter().enumerate() {
        for (a, b) in sentences(s.text) {
            let mut words: Vec<&str> = s
                .toks
                .iter()
                .filter(|t| t.start >= a && t.end <= b && !t.numeric && t.lower.len() > 2 && !is_stop_word(&t.lower))
                .map(|t| stem(&t.lower))
                .collect();
            words.sort_unstable();
            words.dedup();
            if !words.is_empty() {
                sents.push(Sent { seg: d, start: a, end: b, words });
            }
        }
    }
    if sents.len() > MAX_SENTENCES {
        let mut by_len: Vec<usize> = (0..sents.len()).collect();
        by_len.sort_by_key(|&i| std::cmp::Reverse(sents[i].words.len()));
        let mut keep = vec![false; sents.len()];
        by_len[..MAX_SENTENCES].iter().for_each(|&i| keep[i] = true);
        let mut k = keep.into_iter();
        sents.retain(|_| k.next().unwrap_or(false));
    }
    let n = sents.len();
    // Weighted graph.
    let mut w = vec![0.0f64; n * n];
    let mut out_sum = vec![0.0f64; n];
    for i in 0..n {
        for j in (i + 1)..n {
            let (a, b) = (&sents[i].words, &sents[j].words);
            let (mut x, mut y, mut shared) = (0, 0, 0usize);
            while x < a.len() && y < b.len() {
                match a[x].cmp(b[y]) {
                    std::cmp::Ordering::Less => x += 1,
                    std::cmp::Ordering::Greater => y += 1,
                    std::cmp::Ordering::Equal => {
                        shared += 1;
                        x += 1;
                        y += 1;
                    }
                }
            }
            if shared > 0 {
                let denom = ((a.len() as f64).ln_1p() + (b.len() as f64).ln_1p()).max(1.0);
                let s = shared as f64 / denom;
                w[i * n + j] = s;
                w[j * n + i] = s;
                out_sum[i] += s;
                out_sum[j] += s;
            }
        }
    }
    let mut rank = vec![1.0f64; n];
    for _ in 0..30 {
        let mut next = vec![0.15f64; n];
        for j in 0..n {
            if out_sum[j] == 0.0 {
                continue;
            }
            let share = 0.85 * rank[j] / out_sum[j];
            for i in 0..n {
                next[i] += w[j * n + i] * share;
            }
        }
        let delta: f64 = next.iter().zip(&rank).map(|(a, b)| (a - b).abs()).sum();
        rank = next;
        if delta < 1e-6 {
            break;
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    // Ties go to the longer sentence, then the earlier one.
    order.sort_by(|&a, &b| rank[b].total_cmp(&rank[a]).then(sents[b].words.len().cmp(&sents[a].words.len())).then(a.cmp(&b)));
    order.truncate(max);
    order.sort_unstable();
    let mut text = String::new();
    let mut picked = Vec::with_capacity(order.len());
    for i in order {
        let s = &sents[i];
        let seg = &doc[s.seg];
        let speaker = speakers.get(seg.segment).copied().flatten();
        if !text.is_empty() {
            text.push(' ');
        }
        if let Some(sp) = speaker {
            text.push_str(sp.label());
            text.push_str(": ");
        }
        text.push_str(&seg.text[s.start..s.end]);
        picked.push(SummarySentence {
            speaker,
            evidence: Evidence::from_bytes(seg.segment, seg.text, s.start, s.end),
        });
    }
    Summary {
        text,
        engine: ENGINE.to_owned(),
        sentences: picked,
    }
}

/// How many sentences a summary of `n` sentences keeps: √n, 1 to 5.
pub fn default_length(n_sentences: usize) -> usize {
    ((n_sentences as f64).sqrt().ceil() as usize).clamp(1, 5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokens;

    #[test]
    fn picks_the_central_sentences_in_order() {
        let texts = [
            "Hi, thanks for calling Acme support.",
            "My router keeps losing the internet connection every night.",
            "Okay.",
            "I can reset the router and check the internet connection from here.",
            "The weather is nice today.",
            "After the reset the internet connection on the router is stable again.",
        ];
        let toks: Vec<_> = texts.iter().map(|t| tokens(t)).collect();
        let doc: Vec<SegTokens<'_>> = texts.iter().zip(&toks).enumerate().map(|(i, (t, k))| SegTokens { segment: i, text: t, toks: k }).collect();
        let speakers = [Some(Speaker::Agent), Some(Speaker::Customer), Some(Speaker::Agent), Some(Speaker::Agent), Some(Speaker::Customer), Some(Speaker::Agent)];
        let s = summarize(&doc, &speakers, 2);
        assert_eq!(s.engine, "builtin");
        let segs: Vec<usize> = s.sentences.iter().map(|x| x.evidence.segment).collect();
        assert!(segs.windows(2).all(|w| w[0] < w[1]));
        assert!(!segs.contains(&4) && !segs.contains(&0) && !segs.contains(&2), "{s:?}");
        assert!(s.text.starts_with("Customer: My router") || s.text.starts_with("Agent: I can reset"), "{}", s.text);
        for x in &s.sentences {
            assert_eq!(x.evidence.slice(texts[x.evidence.segment]), Some(x.evidence.text.as_str()));
        }
    }
}
