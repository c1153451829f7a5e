# Switchboard's Whisper helper: one persistent process holding one model,
# answering JSON lines on stdin with JSON lines on stdout.
#   argv: model_dir threads language beam_size
#   in:  {"id": n, "op": "transcribe", "pcm16": base64 LE mono 16 kHz}
#        {"id": n, "op": "decode", "data": base64 file bytes}   -> 16 kHz PCM, stereo kept
#   out: {"id": n, "segments": [...]} / {"id": n, "pcm16": ..., "channels": c} / {"id": n, "error": "..."}
# Silero VAD (shipped with faster-whisper) runs before Whisper, so
# silence and noise never become text.
import base64, io, json, sys

def main():
    model_dir, threads, language, beam = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    import numpy as np
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio
    model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1)
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        rid = None
        try:
            req = json.loads(line)
            rid = req.get("id")
            op = req.get("op")
            if op == "transcribe":
                pcm = np.frombuffer(base64.b64decode(req["pcm16"]), dtype="<i2").astype(np.float32) / 32768.0
                segs = []
                if pcm.size >= 1600:
                    it, _info = model.transcribe(
                        pcm, language=language or None, beam_size=beam, vad_filter=True,
                        vad_parameters={"min_silence_duration_ms": 500},
                        word_timestamps=True, condition_on_previous_text=False)
                    for s in it:
                        segs.append({
                            "start": s.start, "end": s.end, "text": s.text.strip(),
                            "avg_logprob": s.avg_logprob, "no_speech_prob": s.no_speech_prob,
                            "words": [{"start": w.start, "end": w.end, "word": w.word.strip(), "p": w.probability} for w in (s.words or [])],
                        })
                resp = {"id": rid, "segments": segs}
            elif op == "decode":
                data = io.BytesIO(base64.b64decode(req["data"]))
                pcm = decode_audio(data, sampling_rate=16000, split_stereo=True)
                try:
                    left, right = pcm
                    n = min(len(left), len(right))
                    inter = np.empty(2 * n, dtype=np.float32)
                    inter[0::2] = left[:n]
                    inter[1::2] = right[:n]
                    channels = 2
                except ValueError:
                    inter, channels = pcm, 1
                pcm16 = np.clip(inter * 32767.0, -32768, 32767).astype("<i2").tobytes()
                # A mono file decoded with split_stereo comes back as two equal channels.
                if channels == 2 and np.array_equal(inter[0::2], inter[1::2]):
                    pcm16 = np.clip(inter[0::2] * 32767.0, -32768, 32767).astype("<i2").tobytes()
                    channels = 1
                resp = {"id": rid, "pcm16": base64.b64encode(pcm16).decode(), "channels": channels}
            elif op == "exit":
                sys.exit(0)
            elif op == "ping":
                resp = {"id": rid, "pong": True}
            else:
                resp = {"id": rid, "error": "unknown op %r" % op}
        except SystemExit:
            raise
        except Exception as e:  # answer, never die on one bad request
            resp = {"id": rid, "error": "%s: %s" % (type(e).__name__, e)}
        out.write(json.dumps(resp) + "\n")
        out.flush()

if __name__ == "__main__":
    main()
