//! Extractive summary: TextRank over the call's sentences (similarity =
//! shared content words over the log of the lengths), the few
//! best-ranked sentences kept in call order with their speaker.

use serde::{Deserialize, Serialize};
use switchboard_domain::transcript::Speaker;

use crate::keywords::SegTokens;
use crate::text::{Evidence, FxMap, is_stop_word, is_tag, sentences};

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

/// A light stemmer, so "charged" meets "charge" and "refunds" meets "refund".
fn stem(w: &str) -> &str {
    let mut w = w;
    for (suffix, min) in [("ing", 6), ("ed", 5), ("es", 5), ("s", 4)] {
        if w.len() >= min && w.ends_with(suffix) && !w.ends_with("ss") {
            w = &w[..w.len() - suffix.len()];
            break;
        }
    }
    if w.len() > 4 && w.ends_with('e') { &w[..w.len() - 1] } else { w }
}

/// Summarises a transcript in at most `max` sentences.
pub fn summarize(doc: &[SegTokens<'_>], speakers: &[Option<Speaker>], max: usize) -> Summary {
    struct Sent {
        seg: usize,
        start: usize,
        end: usize,
        words: Vec<u32>,
    }
    // Content words as ids, so sentence overlap is integer merging.
    let mut ids: FxMap<&str, u32> = FxMap::default();
    let mut sents: Vec<Sent> = Vec::new();
    for (d, s) in doc.iter().enumerate() {
        let mut k = 0;
        for (a, b) in sentences(s.text) {
            while k < s.toks.len() && s.toks[k].start < a {
                k += 1;
            }
            let mut words: Vec<u32> = Vec::new();
            while k < s.toks.len() && s.toks[k].end <= b {
                let t = &s.toks[k];
                if !t.numeric && t.lower.len() > 2 && !is_stop_word(&t.lower) && !is_tag(s.text, t) {
                    let next = ids.len() as u32;
                    words.push(*ids.entry(stem(&t.lower)).or_insert(next));
                }
                k += 1;
            }
            words.sort_unstable();
            words.dedup();
            if !words.is_empty() {
                sents.push(Sent {
                    seg: d,
                    start: a,
                    end: b,
                    words,
                });
            }
        }
    }
    // A summary sentence says something: three content words at least, when enough sentences do.
    if sents.iter().filter(|s| s.words.len() >= 3).count() >= max {
        sents.retain(|s| s.words.len() >= 3);
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
    // Sparse weighted graph: sentences meet through the words they share.
    let mut by_word: FxMap<u32, Vec<u32>> = FxMap::default();
    for (i, s) in sents.iter().enumerate() {
        for &w in &s.words {
            by_word.entry(w).or_default().push(i as u32);
        }
    }
    let mut shared: FxMap<(u32, u32), u32> = FxMap::default();
    for list in by_word.values() {
        for (x, &i) in list.iter().enumerate() {
            for &j in &list[x + 1..] {
                *shared.entry((i, j)).or_insert(0) += 1;
            }
        }
    }
    let mut edges: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
    let mut out_sum = vec![0.0f64; n];
    for (&(i, j), &c) in &shared {
        let (a, b) = (sents[i as usize].words.len(), sents[j as usize].words.len());
        let denom = ((a as f64).ln_1p() + (b as f64).ln_1p()).max(1.0);
        let w = c as f64 / denom;
        edges[i as usize].push((j, w));
        edges[j as usize].push((i, w));
        out_sum[i as usize] += w;
        out_sum[j as usize] += w;
    }
    let mut rank = vec![1.0f64; n];
    let mut next = vec![0.0f64; n];
    for _ in 0..30 {
        next.iter_mut().for_each(|x| *x = 0.15);
        for j in 0..n {
            if out_sum[j] == 0.0 {
                continue;
            }
            let share = 0.85 * rank[j] / out_sum[j];
            for &(i, w) in &edges[j] {
                next[i as usize] += w * share;
            }
        }
        let delta: f64 = next.iter().zip(&rank).map(|(a, b)| (a - b).abs()).sum();
        std::mem::swap(&mut rank, &mut next);
        if delta < 1e-6 {
            break;
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    // Ties go to the longer sentence, then the earlier one.
    order.sort_by(|&a, &b| {
        rank[b]
            .total_cmp(&rank[a])
            .then(sents[b].words.len().cmp(&sents[a].words.len()))
            .then(a.cmp(&b))
    });
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
        let doc: Vec<SegTokens<'_>> = texts
            .iter()
            .zip(&toks)
            .enumerate()
            .map(|(i, (t, k))| SegTokens {
                segment: i,
                text: t,
                toks: k,
            })
            .collect();
        let speakers = [
            Some(Speaker::Agent),
            Some(Speaker::Customer),
            Some(Speaker::Agent),
            Some(Speaker::Agent),
            Some(Speaker::Customer),
            Some(Speaker::Agent),
        ];
        let s = summarize(&doc, &speakers, 2);
        assert_eq!(s.engine, "builtin");
        let segs: Vec<usize> = s.sentences.iter().map(|x| x.evidence.segment).collect();
        assert!(segs.windows(2).all(|w| w[0] < w[1]));
        assert!(!segs.contains(&4) && !segs.contains(&0) && !segs.contains(&2), "{s:?}");
        assert!(
            s.text.starts_with("Customer: My router") || s.text.starts_with("Agent: I can reset"),
            "{}",
            s.text
        );
        for x in &s.sentences {
            assert_eq!(x.evidence.slice(texts[x.evidence.segment]), Some(x.evidence.text.as_str()));
        }
    }
}
