//! Runs the speech evaluation and benchmark outside the server (the server
//! wires the same functions as `switchboard eval stt` and `bench speech`):
//!
//!   cargo run --release -p switchboard-speech --example speech_eval -- CONFIG [eval|roundtrip N|bench STREAMS]

use std::path::PathBuf;

use switchboard_speech::{Speech, SpeechSettings, bench, eval};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let config = PathBuf::from(args.get(1).map(String::as_str).unwrap_or("data/speech/speech.toml"));
    let what = args.get(2).map(String::as_str).unwrap_or("eval");
    let settings = SpeechSettings::from_toml_file(&config).expect("speech settings");
    let speech = Speech::start(&settings);
    for p in speech.problems() {
        eprintln!("problem: {p}");
    }
    let out = match what {
        "eval" => {
            let (clean, phone) = eval::eval_librivox(&speech, std::path::Path::new(eval::LIBRIVOX_DIR)).expect("eval");
            serde_json::json!({"clean": clean, "telephone": phone})
        }
        "roundtrip" => {
            let n: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(300);
            let dir = std::env::temp_dir().join("switchboard-eval-text");
            let fixtures = eval::fetch_sentences(&dir).expect("sentences");
            let sentences = eval::load_sentences(&fixtures, n).expect("sentences");
            let voice = speech.voice(None).expect("voice").id;
            let r = eval::eval_round_trip(&speech, &voice, &sentences).expect("round trip");
            let worst: Vec<_> = {
                let mut v = r.items.clone();
                v.sort_by_key(|s| std::cmp::Reverse(s.errors));
                v.truncate(8);
                v
            };
            serde_json::json!({"name": r.name, "utterances": r.utterances, "words": r.words, "errors": r.errors, "wer": r.wer, "audioSecs": r.audio_secs, "wallSecs": r.wall_secs, "worst": worst})
        }
        "bench" => {
            let streams: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(2);
            let dir = tempfile_dir();
            serde_json::to_value(bench::run(&speech, 10, streams, &dir).expect("bench")).expect("json")
        }
        other => panic!("unknown command {other}"),
    };
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("switchboard-bench-speech-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
