//! Settings of the carrier, the simulator, the dialer and contact imports:
//! flags and `SWITCHBOARD_*` variables ([`TelephonyArgs`]), the
//! `[telephony]` table of `switchboard.toml` ([`TelephonyFile`]), resolved
//! into [`Telephony`]. Documented in docs/config.md.

use anyhow::bail;
use clap::Args;
use serde::Deserialize;

use super::simulator::SimSettings;
use super::twilio::TwilioSettings;
use crate::secret::Secret;

#[derive(Debug, Clone, Default, Args)]
pub struct TelephonyArgs {
    /// Simulated time runs this many times faster than real time [default: 1].
    #[arg(long, env = "SWITCHBOARD_SIM_TIME_SCALE")]
    pub sim_time_scale: Option<f64>,
    /// Seed of the simulator's callee behaviour [default: 1].
    #[arg(long, env = "SWITCHBOARD_SIM_SEED")]
    pub sim_seed: Option<u64>,
    /// Run the dialer in this process: `on` or `off` [default: on].
    #[arg(long, env = "SWITCHBOARD_DIALER")]
    pub dialer: Option<String>,
    /// Organisation-wide cap on new calls per second [default: 10].
    #[arg(long, env = "SWITCHBOARD_DIALER_CPS")]
    pub dialer_cps: Option<u32>,
    #[arg(long, env = "SWITCHBOARD_TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,
    #[arg(long, env = "SWITCHBOARD_TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<Secret>,
    /// Twilio's API base URL [default: https://api.twilio.com].
    #[arg(long, env = "SWITCHBOARD_TWILIO_BASE_URL")]
    pub twilio_base_url: Option<String>,
    /// This server's base URL as Twilio reaches it (StatusCallback and signature checks).
    #[arg(long, env = "SWITCHBOARD_TWILIO_PUBLIC_URL")]
    pub twilio_public_url: Option<String>,
    /// Caller id for campaigns that set none.
    #[arg(long, env = "SWITCHBOARD_TWILIO_FROM")]
    pub twilio_from: Option<String>,
}

/// The `[telephony]` table; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelephonyFile {
    sim_time_scale: Option<f64>,
    sim_seed: Option<u64>,
    sim_failed_rate: Option<f64>,
    sim_busy_rate: Option<f64>,
    sim_answer_rate: Option<f64>,
    sim_voicemail_rate: Option<f64>,
    sim_talk_mean_secs: Option<f64>,
    sim_ring_timeout_secs: Option<i64>,
    sim_answer_by_hour: Option<bool>,
    /// A file the simulator appends a line to per placement.
    sim_placement_log: Option<std::path::PathBuf>,
    dialer: Option<bool>,
    dialer_cps: Option<u32>,
    dialer_tick_ms: Option<u64>,
    dialer_batch: Option<u32>,
    dialer_stale_queued_secs: Option<i64>,
    twilio_account_sid: Option<String>,
    twilio_auth_token: Option<Secret>,
    twilio_base_url: Option<String>,
    twilio_public_url: Option<String>,
    twilio_from: Option<String>,
    twilio_machine_detection: Option<bool>,
    import_max_rows: Option<u64>,
    import_max_bytes: Option<u64>,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Telephony {
    pub sim_time_scale: f64,
    pub sim: SimSettings,
    /// The dialer runs in this process.
    pub dialer: bool,
    pub dialer_cps: u32,
    pub dialer_tick_ms: u64,
    /// Most calls one dialer pass starts per campaign.
    pub dialer_batch: u32,
    pub dialer_stale_queued_secs: i64,
    /// Set when the carrier is Twilio (or credentials are given, so the
    /// callback route can check signatures).
    pub twilio: Option<TwilioSettings>,
    /// Most data rows in one contact import.
    pub import_max_rows: u64,
    /// Largest contact import body in bytes.
    pub import_max_bytes: u64,
}

impl Default for Telephony {
    fn default() -> Self {
        Self {
            sim_time_scale: 1.0,
            sim: SimSettings::default(),
            dialer: true,
            dialer_cps: 10,
            dialer_tick_ms: 500,
            dialer_batch: 200,
            dialer_stale_queued_secs: 120,
            twilio: None,
            import_max_rows: 2_000_000,
            import_max_bytes: 1 << 30,
        }
    }
}

fn rate(name: &str, v: Option<f64>, default: f64) -> anyhow::Result<f64> {
    let v = v.unwrap_or(default);
    if !(0.0..=1.0).contains(&v) {
        bail!("{name} must be between 0 and 1, not {v}");
    }
    Ok(v)
}

impl Telephony {
    pub fn resolve(args: &TelephonyArgs, file: Option<TelephonyFile>, carrier: &str) -> anyhow::Result<Telephony> {
        let f = file.unwrap_or_default();
        let d = Telephony::default();
        let sd = SimSettings::default();
        let scale = args.sim_time_scale.or(f.sim_time_scale).unwrap_or(d.sim_time_scale);
        if !(scale.is_finite() && scale > 0.0 && scale <= 1_000_000.0) {
            bail!("sim_time_scale must be a number above 0 and at most 1000000, not {scale}");
        }
        let sim = SimSettings {
            seed: args.sim_seed.or(f.sim_seed).unwrap_or(sd.seed),
            failed_rate: rate("sim_failed_rate", f.sim_failed_rate, sd.failed_rate)?,
            busy_rate: rate("sim_busy_rate", f.sim_busy_rate, sd.busy_rate)?,
            answer_rate: rate("sim_answer_rate", f.sim_answer_rate, sd.answer_rate)?,
            voicemail_rate: rate("sim_voicemail_rate", f.sim_voicemail_rate, sd.voicemail_rate)?,
            talk_mean_secs: f.sim_talk_mean_secs.unwrap_or(sd.talk_mean_secs),
            ring_timeout_secs: f.sim_ring_timeout_secs.unwrap_or(sd.ring_timeout_secs),
            answer_by_hour: f.sim_answer_by_hour.unwrap_or(sd.answer_by_hour),
            placement_log: f.sim_placement_log.clone(),
        };
        if sim.failed_rate + sim.busy_rate > 1.0 {
            bail!("sim_failed_rate + sim_busy_rate must be at most 1");
        }
        if !(1.0..=3600.0).contains(&sim.talk_mean_secs) || !(5..=300).contains(&sim.ring_timeout_secs) {
            bail!("sim_talk_mean_secs must be 1 to 3600 and sim_ring_timeout_secs 5 to 300");
        }
        let dialer = match args.dialer.as_deref() {
            None => f.dialer.unwrap_or(d.dialer),
            Some("on") => true,
            Some("off") => false,
            Some(other) => bail!("dialer must be 'on' or 'off', not '{other}'"),
        };
        let dialer_cps = args.dialer_cps.or(f.dialer_cps).unwrap_or(d.dialer_cps);
        if !(1..=10_000).contains(&dialer_cps) {
            bail!("dialer_cps must be 1 to 10000");
        }
        let sid = args.twilio_account_sid.clone().or(f.twilio_account_sid);
        let token = args.twilio_auth_token.clone().or(f.twilio_auth_token);
        let public = args.twilio_public_url.clone().or(f.twilio_public_url);
        let twilio = match (sid, token, public) {
            (Some(account_sid), Some(auth_token), Some(public_url)) => Some(TwilioSettings {
                account_sid,
                auth_token,
                base_url: args
                    .twilio_base_url
                    .clone()
                    .or(f.twilio_base_url)
                    .unwrap_or_else(|| "https://api.twilio.com".into()),
                public_url: public_url.trim_end_matches('/').to_owned(),
                from_number: args.twilio_from.clone().or(f.twilio_from),
                machine_detection: f.twilio_machine_detection.unwrap_or(true),
            }),
            _ if carrier == "twilio" => {
                bail!("carrier 'twilio' needs twilio_account_sid, twilio_auth_token and twilio_public_url")
            }
            _ => None,
        };
        Ok(Telephony {
            sim_time_scale: scale,
            sim,
            dialer,
            dialer_cps,
            dialer_tick_ms: f.dialer_tick_ms.unwrap_or(d.dialer_tick_ms).clamp(10, 60_000),
            dialer_batch: f.dialer_batch.unwrap_or(d.dialer_batch).clamp(1, 5_000),
            dialer_stale_queued_secs: f.dialer_stale_queued_secs.unwrap_or(d.dialer_stale_queued_secs).max(10),
            twilio,
            import_max_rows: f.import_max_rows.unwrap_or(d.import_max_rows).max(1),
            import_max_bytes: f.import_max_bytes.unwrap_or(d.import_max_bytes).max(1024),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(toml_text: &str) -> Option<TelephonyFile> {
        Some(toml::from_str(toml_text).unwrap())
    }

    #[test]
    fn flags_beat_the_file_and_bad_values_are_named() {
        let args = TelephonyArgs {
            sim_time_scale: Some(600.0),
            sim_seed: Some(9),
            ..Default::default()
        };
        let t = Telephony::resolve(
            &args,
            file("sim_time_scale = 2.0\nsim_busy_rate = 0.5\ndialer = false\n"),
            "simulator",
        )
        .unwrap();
        assert_eq!((t.sim_time_scale, t.sim.seed, t.sim.busy_rate, t.dialer), (600.0, 9, 0.5, false));
        let bad = |a: TelephonyArgs, f: &str| Telephony::resolve(&a, file(f), "simulator").unwrap_err().to_string();
        assert!(bad(TelephonyArgs::default(), "sim_busy_rate = 1.5").contains("sim_busy_rate"));
        let zero = TelephonyArgs {
            sim_time_scale: Some(0.0),
            ..Default::default()
        };
        assert!(bad(zero, "").contains("sim_time_scale"));
        let dialer = TelephonyArgs {
            dialer: Some("sometimes".into()),
            ..Default::default()
        };
        assert!(bad(dialer, "").contains("dialer"));
        assert!(
            toml::from_str::<TelephonyFile>("sim_seeed = 1").is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn twilio_needs_its_settings_and_hides_its_token() {
        let err = Telephony::resolve(&TelephonyArgs::default(), None, "twilio")
            .unwrap_err()
            .to_string();
        assert!(err.contains("twilio_account_sid"), "{err}");
        let args = TelephonyArgs {
            twilio_account_sid: Some("AC1".into()),
            twilio_auth_token: Some(Secret::new("hunter2")),
            twilio_public_url: Some("https://sb.example.com/".into()),
            ..Default::default()
        };
        let t = Telephony::resolve(&args, None, "twilio").unwrap();
        let tw = t.twilio.as_ref().unwrap();
        assert_eq!(
            (tw.base_url.as_str(), tw.public_url.as_str()),
            ("https://api.twilio.com", "https://sb.example.com")
        );
        assert!(!format!("{t:?}").contains("hunter2"));
    }
}
