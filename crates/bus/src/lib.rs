//! The event bus between replicas: NATS JetStream (`bearing serve --bus`,
//! `bearing ingest --bus`).
//!
//! Senders publish each event to the work stream ([`Config::stream`]) as a
//! CloudEvent on `<prefix>.events.<kind>.<service>`, with the event id as
//! `Nats-Msg-Id` so NATS drops a duplicate inside the stream's duplicate
//! window, and answer only once JetStream has acknowledged every publish: an
//! acknowledged event is on disk in the stream. Every replica pulls from the
//! same durable consumers ([`Bus::run_consumers`]): a batch is written to the
//! store in one transaction (idempotent on event ids) and its messages are
//! acknowledged after the commit, so a replica killed mid-batch leaves its
//! messages unacknowledged and JetStream delivers them again after
//! [`ACK_WAIT`]. A message that can never be stored (not a CloudEvent, not an
//! event, refused by the store's checks) goes to `<prefix>.dead.<what>` in the
//! dead-letter stream with the reason in a header. After each commit a refresh
//! signal (`<prefix>.refresh`, plain NATS) tells every replica to reload its
//! snapshot. Decisions travel the same way on `<prefix>.decisions.<service>`.
//!
//! The work stream keeps messages until they are acknowledged (work-queue
//! retention) within [`Config::max_bytes`] and [`Config::max_age`]; when it is
//! full, new publishes are refused (discard `new`), and ingest answers 503:
//! back-pressure rather than loss. See `docs/server.md`, "The event bus".

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, Message, consumer::pull, context::Publish, stream};
use bearing_events::{DecisionSummary, Event};
use bearing_store::{DynStore, EncodedDecision, SharedContext, StoreError};
use bytes::Bytes;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};

/// Default name of the work stream; the subject prefix is its lower case.
pub const DEFAULT_STREAM: &str = "BEARING";
/// Default most bytes the work stream holds (1 GiB: about 1.5 million events).
pub const DEFAULT_MAX_BYTES: i64 = 1 << 30;
/// Default longest a message waits in the stream (7 days).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default window in which NATS drops a message whose id it has seen.
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// How long a delivered message may stay unacknowledged before JetStream
/// delivers it again (to any replica).
pub const ACK_WAIT: Duration = Duration::from_secs(10);
/// Most messages a consumer takes (and the store writes) at once.
pub const BATCH: usize = 1_000;
/// Longest wait for JetStream's acknowledgement of a publish.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
/// Header of a dead letter: why the message can never be stored.
pub const DEAD_REASON: &str = "Bearing-Dead-Reason";
/// Header of a dead letter: the subject the message was published on.
pub const DEAD_SUBJECT: &str = "Bearing-Dead-Subject";

/// Where the bus is and how its streams are limited.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `nats://HOST:PORT`.
    pub url: String,
    /// Work stream name (`[A-Za-z0-9_-]`); the dead-letter stream is
    /// `<stream>_DEAD` and the subjects start with its lower case.
    pub stream: String,
    pub max_bytes: i64,
    pub max_age: Duration,
    pub duplicate_window: Duration,
}

impl Config {
    /// The defaults, on the server at `url`.
    pub fn new(url: impl Into<String>) -> Config {
        Config {
            url: url.into(),
            stream: DEFAULT_STREAM.to_string(),
            max_bytes: DEFAULT_MAX_BYTES,
            max_age: DEFAULT_MAX_AGE,
            duplicate_window: DEFAULT_DUPLICATE_WINDOW,
        }
    }

    /// The first token of every subject.
    pub fn prefix(&self) -> String {
        self.stream.to_ascii_lowercase()
    }

    pub fn dead_stream(&self) -> String {
        format!("{}_DEAD", self.stream)
    }

    fn check(&self) -> Result<(), BusError> {
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if self.stream.is_empty() || !self.stream.chars().all(ok) {
            return Err(BusError::Config(format!(
                "stream name `{}`: expected letters, digits, `_` or `-`",
                self.stream
            )));
        }
        if self.max_bytes <= 0 || self.max_age.is_zero() {
            return Err(BusError::Config(
                "the stream's max bytes and max age must be positive".into(),
            ));
        }
        if self.duplicate_window.is_zero() || self.duplicate_window > self.max_age {
            return Err(BusError::Config(
                "the duplicate window must be positive and no longer than the max age".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("invalid bus settings: {0}")]
    Config(String),
    #[error("cannot reach NATS JetStream at `{url}`: {message}")]
    Connect { url: String, message: String },
    /// Not connected, a publish not acknowledged in time, or the stream full.
    #[error("the event bus did not take the message: {0}")]
    Unavailable(String),
}

fn unavailable(e: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(e.to_string())
}

/// A connection to the bus; cheap to clone.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    client: async_nats::Client,
    js: jetstream::Context,
    config: Config,
    prefix: String,
}

/// What a publish of events did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    /// Messages the stream took as new.
    pub new: u64,
    /// Messages NATS dropped as duplicates (an id seen in the duplicate window).
    pub duplicates: u64,
}

/// A message the consumers could not store, as the dead-letter stream keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// Sequence in the dead-letter stream.
    pub sequence: u64,
    /// The subject it was published on.
    pub subject: String,
    pub reason: String,
    /// The message as it was published.
    pub payload: Bytes,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Bus {
    /// Connects and creates (or updates the limits of) the work and
    /// dead-letter streams.
    pub async fn connect(config: Config) -> Result<Bus, BusError> {
        config.check()?;
        let connect_error = |e: &dyn std::fmt::Display| BusError::Connect {
            url: config.url.clone(),
            message: e.to_string(),
        };
        let client = async_nats::ConnectOptions::new()
            .name("bearing")
            .connection_timeout(Duration::from_secs(5))
            .connect(config.url.as_str())
            .await
            .map_err(|e| connect_error(&e))?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(PUBLISH_TIMEOUT);
        let prefix = config.prefix();
        js.create_or_update_stream(stream::Config {
            name: config.stream.clone(),
            description: Some("Bearing: events and decisions on their way to the store".into()),
            subjects: vec![
                format!("{prefix}.events.>"),
                format!("{prefix}.decisions.>"),
            ],
            retention: stream::RetentionPolicy::WorkQueue,
            discard: stream::DiscardPolicy::New,
            max_bytes: config.max_bytes,
            max_age: config.max_age,
            duplicate_window: config.duplicate_window,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| connect_error(&e))?;
        js.create_or_update_stream(stream::Config {
            name: config.dead_stream(),
            description: Some("Bearing: messages that can never be stored, with the reason".into()),
            subjects: vec![format!("{prefix}.dead.>")],
            retention: stream::RetentionPolicy::Limits,
            discard: stream::DiscardPolicy::Old,
            max_bytes: config.max_bytes,
            max_age: config.max_age,
            duplicate_window: config.duplicate_window,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| connect_error(&e))?;
        Ok(Bus {
            inner: Arc::new(Inner {
                client,
                js,
                config,
                prefix,
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// `<prefix>.events.<kind>.<service>` (`_` for an event without service).
    pub fn event_subject(&self, event: &Event) -> String {
        format!(
            "{}.events.{}.{}",
            self.inner.prefix,
            event.kind().name(),
            token(event.service.as_deref())
        )
    }

    fn decision_subject(&self, service: Option<&str>) -> String {
        format!("{}.decisions.{}", self.inner.prefix, token(service))
    }

    fn refresh_subject(&self) -> String {
        format!("{}.refresh", self.inner.prefix)
    }

    /// Whether the client is connected now.
    pub fn is_connected(&self) -> bool {
        self.inner.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Publishes every event and waits for JetStream to acknowledge each:
    /// on `Ok`, all of them are in the stream. On an error some may be; the
    /// sender sends the batch again and the duplicates are dropped (by NATS
    /// inside the duplicate window, by the store's ids after it).
    pub async fn publish_events(&self, events: &[Event]) -> Result<Published, BusError> {
        let mut messages = Vec::with_capacity(events.len());
        for e in events {
            messages.push((
                self.event_subject(e),
                e.id.clone(),
                cloud_event(&e.id, &e.source, "event", e.kind().name(), e)?,
            ));
        }
        self.publish_all(messages).await
    }

    /// Publishes decisions for the log (ids as `Nats-Msg-Id`).
    pub async fn publish_decisions(
        &self,
        decisions: &[EncodedDecision],
    ) -> Result<Published, BusError> {
        let mut messages = Vec::with_capacity(decisions.len());
        for d in decisions {
            let wire = DecisionWire {
                summary: d.summary.clone(),
                record: d.record.clone(),
                context: d.context.as_ref().map(|c| ContextWire {
                    digest: c.digest.to_string(),
                    body: c.body.to_string(),
                }),
            };
            let id = &d.summary.id;
            messages.push((
                self.decision_subject(d.summary.service.as_deref()),
                id.clone(),
                cloud_event(id, "bearing", "decision", &d.summary.result, &wire)?,
            ));
        }
        self.publish_all(messages).await
    }

    async fn publish_all(
        &self,
        messages: Vec<(String, String, Bytes)>,
    ) -> Result<Published, BusError> {
        if !self.is_connected() {
            return Err(BusError::Unavailable(format!(
                "not connected to NATS at `{}`",
                self.inner.config.url
            )));
        }
        let mut acks = Vec::with_capacity(messages.len());
        for (subject, id, payload) in messages {
            let publish = Publish::build().message_id(id).payload(payload);
            acks.push(
                self.inner
                    .js
                    .send_publish(subject, publish)
                    .await
                    .map_err(unavailable)?,
            );
        }
        let mut out = Published::default();
        for ack in
            futures::future::join_all(acks.into_iter().map(std::future::IntoFuture::into_future))
                .await
        {
            if ack.map_err(unavailable)?.duplicate {
                out.duplicates += 1;
            } else {
                out.new += 1;
            }
        }
        Ok(out)
    }

    /// Tells every replica to reload its snapshot (plain NATS: a lost signal
    /// only delays the reload to the next scheduled refresh).
    pub async fn signal_refresh(&self) {
        if let Err(e) = self
            .inner
            .client
            .publish(self.refresh_subject(), Bytes::new())
            .await
        {
            tracing::debug!(error = %e, "cannot send the refresh signal");
        }
    }

    /// The refresh signals of every replica.
    pub async fn refresh_signals(&self) -> Result<async_nats::Subscriber, BusError> {
        self.inner
            .client
            .subscribe(self.refresh_subject())
            .await
            .map_err(unavailable)
    }

    /// Every message in the dead-letter stream, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, BusError> {
        let mut stream = self
            .inner
            .js
            .get_stream(self.inner.config.dead_stream())
            .await
            .map_err(unavailable)?;
        let state = stream.info().await.map_err(unavailable)?.state.clone();
        let mut out = Vec::new();
        if state.messages == 0 {
            return Ok(out);
        }
        for seq in state.first_sequence..=state.last_sequence {
            let Ok(m) = stream.get_raw_message(seq).await else {
                continue;
            };
            let header = |name: &str| {
                m.headers
                    .get(name)
                    .map(|v| v.as_str().to_string())
                    .unwrap_or_default()
            };
            out.push(DeadLetter {
                sequence: m.sequence,
                subject: header(DEAD_SUBJECT),
                reason: header(DEAD_REASON),
                payload: m.payload.clone(),
            });
        }
        Ok(out)
    }

    /// Messages waiting in the work stream (published, not yet stored).
    pub async fn pending(&self) -> Result<u64, BusError> {
        let mut stream = self
            .inner
            .js
            .get_stream(&self.inner.config.stream)
            .await
            .map_err(unavailable)?;
        Ok(stream.info().await.map_err(unavailable)?.state.messages)
    }

    /// Deletes both streams (tests and benches clean up after themselves).
    pub async fn delete_streams(&self) -> Result<(), BusError> {
        let js = &self.inner.js;
        js.delete_stream(&self.inner.config.stream)
            .await
            .map_err(unavailable)?;
        js.delete_stream(self.inner.config.dead_stream())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Publishes raw bytes on a subject under the prefix (`events.…`), for
    /// tests of what the consumers do with a message no Bearing sent.
    pub async fn publish_raw(
        &self,
        subject: &str,
        id: &str,
        payload: Bytes,
    ) -> Result<(), BusError> {
        let subject = format!("{}.{subject}", self.inner.prefix);
        let publish = Publish::build().message_id(id).payload(payload);
        self.inner
            .js
            .send_publish(subject, publish)
            .await
            .map_err(unavailable)?
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Runs this replica's share of the durable consumers (events, then
    /// decisions) until `stop` turns true: each batch is stored, then
    /// acknowledged, then signalled for refresh.
    pub fn run_consumers(
        &self,
        store: DynStore,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let events = tokio::spawn(consume::<Event>(self.clone(), store.clone(), stop.clone()));
        let decisions = tokio::spawn(consume::<EncodedDecision>(self.clone(), store, stop));
        tokio::spawn(async move {
            let _ = events.await;
            let _ = decisions.await;
        })
    }
}

/// A subject token for a service: `[A-Za-z0-9_-]` kept, anything else `_`.
fn token(service: Option<&str>) -> String {
    match service {
        Some(s) if !s.is_empty() => s
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect(),
        _ => "_".into(),
    }
}

/// A CloudEvent (JSON, structured mode) carrying `data`.
#[derive(Serialize)]
struct CloudEventOut<'a, T> {
    specversion: &'static str,
    id: &'a str,
    source: &'a str,
    #[serde(rename = "type")]
    type_: String,
    datacontenttype: &'static str,
    data: &'a T,
}

#[derive(Deserialize)]
struct CloudEventIn<T> {
    specversion: String,
    #[serde(rename = "type")]
    type_: String,
    data: T,
}

/// CloudEvents type of what Bearing publishes: `dev.bearing.<what>.<sub>`.
const TYPE_PREFIX: &str = "dev.bearing.";

fn cloud_event<T: Serialize>(
    id: &str,
    source: &str,
    what: &str,
    sub: &str,
    data: &T,
) -> Result<Bytes, BusError> {
    let ce = CloudEventOut {
        specversion: "1.0",
        id,
        source,
        type_: format!("{TYPE_PREFIX}{what}.{sub}"),
        datacontenttype: "application/json",
        data,
    };
    serde_json::to_vec(&ce)
        .map(Bytes::from)
        .map_err(|e| BusError::Unavailable(format!("cannot encode `{id}`: {e}")))
}

/// Reads a CloudEvent of `what` (`event`, `decision`); the error says what
/// is wrong and where in the payload.
fn read_cloud_event<T: serde::de::DeserializeOwned>(
    payload: &[u8],
    what: &str,
) -> Result<T, String> {
    let ce: CloudEventIn<T> = serde_json::from_slice(payload)
        .map_err(|e| format!("not a CloudEvent carrying a Bearing {what}: {e}"))?;
    if ce.specversion != "1.0" {
        return Err(format!(
            "field `specversion`: expected `1.0`, got `{}`",
            ce.specversion
        ));
    }
    let expected = format!("{TYPE_PREFIX}{what}.");
    if !ce.type_.starts_with(&expected) {
        return Err(format!(
            "field `type`: expected `{expected}…`, got `{}`",
            ce.type_
        ));
    }
    Ok(ce.data)
}

#[derive(Serialize, Deserialize)]
struct DecisionWire {
    summary: DecisionSummary,
    record: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context: Option<ContextWire>,
}

#[derive(Serialize, Deserialize)]
struct ContextWire {
    digest: String,
    body: String,
}

/// What the consumers store: events and decisions.
trait Record: Sized + Send + Sync + 'static {
    /// `events` or `decisions`: the subject token and the consumer's name.
    const WHAT: &'static str;
    fn decode(payload: &[u8]) -> Result<Self, String>;
    fn id(&self) -> &str;
    /// Stores a batch in one transaction; the count of new records.
    fn write(
        store: &DynStore,
        batch: &[Self],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Whether the store answers a read of where these records go: when it
    /// does and a batch still fails, the batch holds a record it refuses.
    fn store_answers(store: &DynStore) -> impl Future<Output = bool> + Send;
}

impl Record for Event {
    const WHAT: &'static str = "events";
    fn decode(payload: &[u8]) -> Result<Self, String> {
        let event: Event = read_cloud_event(payload, "event")?;
        bearing_store::check_event(0, &event).map_err(|e| e.to_string())?;
        Ok(event)
    }
    fn id(&self) -> &str {
        &self.id
    }
    async fn write(store: &DynStore, batch: &[Self]) -> Result<u64, StoreError> {
        store.ingest(batch).await.map(|o| o.accepted)
    }
    async fn store_answers(store: &DynStore) -> bool {
        store.count_events().await.is_ok()
    }
}

impl Record for EncodedDecision {
    const WHAT: &'static str = "decisions";
    fn decode(payload: &[u8]) -> Result<Self, String> {
        let w: DecisionWire = read_cloud_event(payload, "decision")?;
        Ok(EncodedDecision {
            summary: w.summary,
            record: w.record,
            context: w.context.map(|c| SharedContext {
                digest: c.digest.into(),
                body: c.body.into(),
            }),
        })
    }
    fn id(&self) -> &str {
        &self.summary.id
    }
    async fn write(store: &DynStore, batch: &[Self]) -> Result<u64, StoreError> {
        store
            .put_decisions(batch)
            .await
            .map(|()| batch.len() as u64)
    }
    async fn store_answers(store: &DynStore) -> bool {
        let one = bearing_store::DecisionQuery {
            limit: Some(1),
            ..Default::default()
        };
        store.decisions(&one).await.is_ok()
    }
}

/// One durable pull consumer (shared by every replica) of `R`s.
async fn consume<R: Record>(
    bus: Bus,
    store: DynStore,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let name = format!("{}-{}", bus.inner.config.stream, R::WHAT);
    let mut backoff = Backoff::default();
    let consumer = loop {
        match consumer::<R>(&bus, &name).await {
            Ok(c) => break c,
            Err(e) => {
                tracing::warn!(consumer = %name, error = %e, "cannot bind the bus consumer; retrying");
                if backoff.wait(&mut stop).await {
                    return;
                }
            }
        }
    };
    tracing::info!(consumer = %name, "consuming from the bus");
    while !*stop.borrow() {
        // Wait (up to a second) for one message, then take whatever else is
        // ready at once: a lone event is stored at once, a backlog in
        // batches of up to BATCH.
        let batch = async {
            let mut msgs = Vec::new();
            let mut first = consumer
                .batch()
                .max_messages(1)
                .expires(Duration::from_secs(1))
                .messages()
                .await?;
            while let Some(m) = first.next().await {
                msgs.push(m?);
            }
            if !msgs.is_empty() {
                let mut more = consumer.fetch().max_messages(BATCH - 1).messages().await?;
                while let Some(m) = more.next().await {
                    msgs.push(m?);
                }
            }
            Ok::<_, async_nats::Error>(msgs)
        };
        let msgs = tokio::select! {
            _ = stop.changed() => break,
            m = batch => m,
        };
        match msgs {
            Ok(msgs) if msgs.is_empty() => backoff = Backoff::default(),
            Ok(msgs) => {
                backoff = Backoff::default();
                if let Some(stored) = commit::<R>(&bus, &store, msgs, &mut stop).await
                    && stored > 0
                {
                    bus.signal_refresh().await;
                }
            }
            Err(e) => {
                tracing::warn!(consumer = %name, error = %e, "cannot fetch from the bus; retrying");
                if backoff.wait(&mut stop).await {
                    break;
                }
            }
        }
    }
}

async fn consumer<R: Record>(
    bus: &Bus,
    name: &str,
) -> Result<jetstream::consumer::Consumer<pull::Config>, async_nats::Error> {
    let stream = bus.inner.js.get_stream(&bus.inner.config.stream).await?;
    Ok(stream
        .get_or_create_consumer(
            name,
            pull::Config {
                durable_name: Some(name.to_string()),
                description: Some(format!("Bearing replicas storing {}", R::WHAT)),
                filter_subject: format!("{}.{}.>", bus.inner.prefix, R::WHAT),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_deliver: -1,
                max_ack_pending: (BATCH * 20) as i64,
                ..Default::default()
            },
        )
        .await?)
}

/// Doubling waits from 250 ms to 5 s.
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(Duration::from_millis(250))
    }
}

impl Backoff {
    /// Waits; true when `stop` turned true meanwhile.
    async fn wait(&mut self, stop: &mut tokio::sync::watch::Receiver<bool>) -> bool {
        let d = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(5));
        tokio::select! {
            _ = stop.changed() => true,
            () = tokio::time::sleep(d) => *stop.borrow(),
        }
    }
}

/// Failed writes of a batch, with the store answering, after which the
/// batch is written record by record to find the ones that cannot be stored.
const FAILURES_BEFORE_SPLIT: u32 = 3;

/// Stores the records of `msgs` and acknowledges them: the undecodable go
/// to the dead letters at once; the rest are written in one transaction,
/// retried while the store is down (the messages kept from redelivery),
/// and a record the store refuses goes to the dead letters. `None` when
/// stopped before the commit (the messages are then delivered again).
async fn commit<R: Record>(
    bus: &Bus,
    store: &DynStore,
    msgs: Vec<Message>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<u64> {
    let mut records: Vec<R> = Vec::with_capacity(msgs.len());
    let mut carried: Vec<Vec<Message>> = Vec::with_capacity(msgs.len());
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for m in msgs {
        match R::decode(&m.payload) {
            Ok(r) => match index.get(r.id()) {
                // A redelivered or republished id in the same batch: stored once.
                Some(&i) => carried[i].push(m),
                None => {
                    index.insert(r.id().to_string(), records.len());
                    records.push(r);
                    carried.push(vec![m]);
                }
            },
            Err(reason) => dead_letter(bus, &[m], &reason).await,
        }
    }
    let mut failures = 0;
    let mut backoff = Backoff::default();
    loop {
        if records.is_empty() {
            return Some(0);
        }
        match R::write(store, &records).await {
            Ok(n) => {
                ack(carried.iter().flatten(), AckKind::Ack).await;
                return Some(n);
            }
            Err(StoreError::InvalidEvent { index, .. }) if index < records.len() => {
                let e = R::write(store, &records[index..=index]).await;
                let reason = e
                    .err()
                    .map_or_else(|| "refused by the store".into(), |e| e.to_string());
                dead_letter(bus, &carried[index], &reason).await;
                records.remove(index);
                carried.remove(index);
            }
            Err(e) => {
                if R::store_answers(store).await {
                    failures += 1;
                    if failures >= FAILURES_BEFORE_SPLIT {
                        return Some(one_by_one(bus, store, records, carried).await);
                    }
                }
                tracing::warn!(error = %e, count = records.len(), what = R::WHAT, "cannot store a batch from the bus; pausing");
                // Keep the messages from being delivered to another replica
                // while this one waits for the same store.
                ack(carried.iter().flatten(), AckKind::Progress).await;
                if backoff.wait(stop).await {
                    return None;
                }
            }
        }
    }
}

/// Writes each record alone; one the store still refuses is a dead letter.
async fn one_by_one<R: Record>(
    bus: &Bus,
    store: &DynStore,
    records: Vec<R>,
    carried: Vec<Vec<Message>>,
) -> u64 {
    let mut stored = 0;
    for (r, msgs) in records.into_iter().zip(carried) {
        match R::write(store, std::slice::from_ref(&r)).await {
            Ok(n) => {
                stored += n;
                ack(msgs.iter(), AckKind::Ack).await;
            }
            Err(e) => dead_letter(bus, &msgs, &e.to_string()).await,
        }
    }
    stored
}

async fn ack<'a>(msgs: impl Iterator<Item = &'a Message>, kind: AckKind) {
    let acks = msgs.map(|m| m.ack_with(kind));
    for r in futures::future::join_all(acks).await {
        if let Err(e) = r {
            tracing::debug!(error = %e, "cannot acknowledge a bus message");
        }
    }
}

/// Publishes each message to `<prefix>.dead.<what>` with the reason and the
/// original subject, then acknowledges it. If the dead letter cannot be
/// published, the message is left unacknowledged (delivered again).
async fn dead_letter(bus: &Bus, msgs: &[Message], reason: &str) {
    let reason: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1_000)
        .collect();
    for m in msgs {
        let seq = m.info().map(|i| i.stream_sequence).unwrap_or_default();
        let what = m.subject.split('.').nth(1).unwrap_or("unknown");
        let publish = Publish::build()
            .message_id(format!("dead:{seq}"))
            .header(DEAD_REASON, reason.as_str())
            .header(DEAD_SUBJECT, m.subject.as_str())
            .payload(m.payload.clone());
        let sent = async {
            bus.inner
                .js
                .send_publish(format!("{}.dead.{what}", bus.inner.prefix), publish)
                .await?
                .await?;
            Ok::<_, async_nats::Error>(())
        };
        match sent.await {
            Ok(()) => {
                tracing::warn!(subject = %m.subject, sequence = seq, %reason, "a bus message can never be stored: sent to the dead letters");
                ack(std::iter::once(m), AckKind::Ack).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot publish a dead letter; the message will come again")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn service_tokens_are_valid_subject_tokens() {
        assert_eq!(token(Some("checkout")), "checkout");
        assert_eq!(token(Some("a.b *>c")), "a_b___c");
        assert_eq!(token(None), "_");
        assert_eq!(token(Some("")), "_");
    }

    #[test]
    fn a_published_event_reads_back_and_a_foreign_body_says_why_not() {
        let e: Event = serde_json::from_str(
            r#"{"id":"d1","source":"it","time":"2026-01-01T00:00:00Z","service":"s","kind":"deployment","data":{"deployment_id":"d1","status":"success"}}"#,
        )
        .unwrap();
        let body = cloud_event(&e.id, &e.source, "event", "deployment", &e).unwrap();
        assert_eq!(<Event as Record>::decode(&body).unwrap(), e);
        let err = <Event as Record>::decode(b"{\"specversion\":\"1.0\"}").unwrap_err();
        assert!(err.contains("missing field `type`"), "{err}");
        let wrong = String::from_utf8(body.to_vec()).unwrap().replace(
            "dev.bearing.event.deployment",
            "dev.cdevents.service.deployed.0.1.1",
        );
        let err = <Event as Record>::decode(wrong.as_bytes()).unwrap_err();
        assert!(err.contains("field `type`"), "{err}");
    }

    #[test]
    fn stream_names_are_checked() {
        assert!(Config::new("nats://x").check().is_ok());
        let mut c = Config::new("nats://x");
        c.stream = "a.b".into();
        assert!(c.check().is_err());
    }
}
