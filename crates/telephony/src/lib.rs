//! Carriers: what places and controls calls. One trait ([`Carrier`]) with
//! two implementations: the built-in [`simulator`] (the default, offline,
//! deterministic for a seed) and [`twilio`] (Twilio's REST API). Status
//! changes come back through the core as call reports keyed by our call id,
//! with the carrier's call id stored as the call's external id.
//!
//! The dialer and the simulator read time from a [`TimeSource`]: the real
//! clock, a clock running `scale` times faster (so a day of dialing passes
//! in minutes), or a manual clock tests move by hand.

pub mod secret;
pub use secret::Secret;
pub mod personas;
pub mod settings;
pub mod signature;
pub mod simulator;
pub mod twilio;
pub mod twiml;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use switchboard_domain::conversation::{Action, Event};
use switchboard_domain::script::{InputMode, TransferMode};
use switchboard_domain::{Call, CallId, OrgId, Timestamp};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CarrierError {
    /// The carrier refused the request; the text is the carrier's reason.
    #[error("carrier refused the request: {0}")]
    Refused(String),
    /// The carrier could not be reached or answered nonsense.
    #[error("carrier unavailable: {0}")]
    Unavailable(String),
    /// The call is not one this carrier knows (or it already ended).
    #[error("the carrier has no live call {0}")]
    UnknownCall(String),
    #[error(transparent)]
    Store(#[from] switchboard_store::StoreError),
}

/// A call to place.
#[derive(Debug, Clone)]
pub struct PlaceCall {
    pub call: Call,
    pub attempt: u32,
    /// The callee's IANA zone.
    pub zone: String,
    /// When the dialer claimed the call (its clock), which the simulator
    /// places it at.
    pub placed_at: Timestamp,
    /// The call runs a script: on answer, the carrier hands the call to the
    /// conversation runtime ([`Conversations`]).
    pub conversation: bool,
    /// Simulator only: the callee's persona and pinned answers.
    pub simulation: Option<Simulation>,
}

/// How a simulated callee behaves on one call (`simulation` on `POST /v1/calls`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Simulation {
    /// One of [`simulator::PERSONAS`]; chosen by the seed when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona: Option<String>,
    /// Answers to the script's questions, in order: digits are key presses,
    /// `""` is silence, `"<hangup>"` hangs up, anything else is speech.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<String>,
}

/// A call the carrier is handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRef {
    pub org_id: OrgId,
    pub call_id: CallId,
    /// The carrier's id (Twilio CallSid).
    pub external_id: Option<String>,
}

/// An action on a live call (`POST /v1/calls/{id}/actions`), carried out
/// by the carrier.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum LiveAction {
    Hangup,
    Hold,
    Unhold,
    Mute,
    Unmute,
    /// Sends key presses; `w` waits half a second.
    Dtmf {
        digits: String,
    },
    Say {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        voice: Option<String>,
    },
    Play {
        url: String,
    },
    Gather {
        input: InputMode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        num_digits: Option<u8>,
        timeout_secs: u32,
    },
    Transfer {
        to: String,
        mode: TransferMode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
}

impl LiveAction {
    pub const NAMES: [&'static str; 10] = [
        "hangup", "hold", "unhold", "mute", "unmute", "dtmf", "say", "play", "gather", "transfer",
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Self::Hangup => "hangup",
            Self::Hold => "hold",
            Self::Unhold => "unhold",
            Self::Mute => "mute",
            Self::Unmute => "unmute",
            Self::Dtmf { .. } => "dtmf",
            Self::Say { .. } => "say",
            Self::Play { .. } => "play",
            Self::Gather { .. } => "gather",
            Self::Transfer { .. } => "transfer",
        }
    }
}

/// The conversation runtime as carriers see it: what the callee did goes
/// in, what the carrier must do next comes out (never `AskModel`: the
/// runtime asks the model itself).
#[async_trait]
pub trait Conversations: Send + Sync {
    async fn on_event(&self, call: &CallRef, event: Event, at: Timestamp) -> Vec<Action>;
    /// The actions that put a call back where its script waits (after a
    /// hold, an interruption or a restart).
    async fn resume(&self, call: &CallRef, at: Timestamp) -> Vec<Action>;
    /// Whether the call runs a script (a restarted carrier asks).
    async fn scripted(&self, call: &CallRef) -> bool;
}

#[async_trait]
pub trait Carrier: Send + Sync {
    fn name(&self) -> &'static str;
    /// Carriers that name calls before placing them (the simulator) give
    /// the prefix of those names; the dialer stores the name with the call.
    fn id_prefix(&self) -> Option<String>;
    /// Places a call; answers the carrier's id for it.
    async fn place(&self, req: PlaceCall) -> Result<String, CarrierError>;
    /// Cancels a call that has not been answered.
    async fn cancel(&self, call: &CallRef) -> Result<(), CarrierError>;
    async fn hang_up(&self, call: &CallRef) -> Result<(), CarrierError>;
    /// Carries out an action on a live call (hang-ups go to [`Carrier::hang_up`]).
    async fn act(&self, call: &CallRef, action: &LiveAction) -> Result<(), CarrierError>;
}

/// Where the dialer and the simulator read the time.
pub trait TimeSource: Send + Sync {
    fn now(&self) -> Timestamp;
    /// Moves a simulated clock forward to `t` if it is behind it (after a
    /// restart, so simulated time never runs backwards). Real clocks ignore it.
    fn catch_up(&self, _t: Timestamp) {}
}

/// The real clock, optionally running `scale` times faster from the moment
/// it was made.
#[derive(Debug)]
pub struct ScaledClock {
    origin: Timestamp,
    started: Instant,
    scale: f64,
    /// Milliseconds added by [`TimeSource::catch_up`].
    offset_ms: AtomicI64,
}

impl ScaledClock {
    pub fn new(scale: f64) -> Self {
        Self {
            origin: switchboard_domain::now(),
            started: Instant::now(),
            scale: if scale.is_finite() && scale > 0.0 { scale } else { 1.0 },
            offset_ms: AtomicI64::new(0),
        }
    }
}

impl TimeSource for ScaledClock {
    fn now(&self) -> Timestamp {
        if self.scale == 1.0 {
            return switchboard_domain::now();
        }
        let ms = (self.started.elapsed().as_secs_f64() * 1000.0 * self.scale) as i64;
        self.origin + chrono::Duration::milliseconds(ms + self.offset_ms.load(Ordering::SeqCst))
    }

    fn catch_up(&self, t: Timestamp) {
        let behind = (t - self.now()).num_milliseconds();
        if self.scale != 1.0 && behind > 0 {
            self.offset_ms.fetch_add(behind, Ordering::SeqCst);
        }
    }
}

/// A clock that moves only when told to (tests and benchmarks).
#[derive(Debug)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    pub fn new(at: Timestamp) -> Arc<Self> {
        Arc::new(Self {
            ms: AtomicI64::new(at.timestamp_millis()),
        })
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.ms.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }

    pub fn set(&self, at: Timestamp) {
        self.ms.store(at.timestamp_millis(), Ordering::SeqCst);
    }
}

impl TimeSource for ManualClock {
    fn now(&self) -> Timestamp {
        chrono::DateTime::from_timestamp_millis(self.ms.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

/// The carrier this process places calls with, and the clock it runs on.
pub struct Runtime {
    pub clock: Arc<dyn TimeSource>,
    pub carrier: Arc<dyn Carrier>,
    /// Set when the carrier is the simulator (its reports need pumping).
    pub simulator: Option<Arc<simulator::Simulator>>,
}

impl Runtime {
    /// The simulator on a clock of the caller's (tests and benchmarks move it by hand).
    pub fn simulated(settings: simulator::SimSettings, store: switchboard_store::DynStore, clock: Arc<dyn TimeSource>) -> Self {
        let sim = simulator::Simulator::new(settings, store, clock.clone());
        Self {
            clock,
            carrier: sim.clone(),
            simulator: Some(sim),
        }
    }

    /// Builds the carrier named `carrier`: Twilio when chosen (and
    /// configured), else the simulator on a clock sped up by `sim_time_scale`.
    pub fn new(carrier: &str, t: &settings::Telephony, store: switchboard_store::DynStore) -> Self {
        match (carrier, &t.twilio) {
            ("twilio", Some(tw)) => Self {
                clock: Arc::new(ScaledClock::new(1.0)),
                carrier: Arc::new(twilio::Twilio::new(tw.clone())),
                simulator: None,
            },
            _ => {
                let clock: Arc<dyn TimeSource> = Arc::new(ScaledClock::new(t.sim_time_scale));
                let sim = simulator::Simulator::new(t.sim.clone(), store, clock.clone());
                Self {
                    clock,
                    carrier: sim.clone(),
                    simulator: Some(sim),
                }
            }
        }
    }
}
