//! The events as the report engine holds them: every id interned to a dense number, every kind
//! in its own columns. A person is a `u32`, so the engine's per-person state is a plain array
//! indexed by it, not a hash map keyed by text; and the text of an id is stored once.
//!
//! A table only grows: [`Table::push`] appends one event. The batch report reads a whole file
//! into one; the live index of a brand appends each event as it is recorded.

use std::hash::BuildHasher;
use std::path::Path;
use std::sync::Mutex;

use events::{EventError, EventRef, KindRef, MenuCategory, ReadError, Source};
use hashbrown::HashTable;
use jiff::Timestamp;

/// Ids are the brand's own data and channel-assigned ids; a fixed-seed hash is enough, and
/// foldhash mixes short strings better than Fx (whose clustering showed in profiles).
const HASHER: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x5a10_4e11);

/// "No one": an event without a follower (only pushes lack one in a valid file).
pub const NONE: u32 = u32::MAX;

/// Distinct strings numbered 0, 1, 2, … in order of first appearance, their text kept once.
#[derive(Default)]
pub struct Interner {
    text: String,
    /// Where each name starts in `text`; name `i` ends where `i + 1` starts.
    starts: Vec<u32>,
    /// The names by hash, each with its place in `text`, so that a lookup reads the text of
    /// the candidate and nothing else.
    table: HashTable<Slot>,
}

/// Names up to this many bytes are compared inside the table's slot: a lookup then touches
/// the slot alone, not the text too (a cache miss fewer per event). WeChat openids (28
/// bytes) and shorter ids fit.
const INLINE: usize = 12;

#[derive(Clone, Copy)]
struct Slot {
    id: u32,
    start: u32,
    len: u32,
    /// The name's bytes when it fits ([`INLINE`]), zero-padded.
    head: [u8; INLINE],
}

impl Slot {
    fn name(self, text: &str) -> &str {
        &text[self.start as usize..(self.start + self.len) as usize]
    }

    fn head_of(s: &str) -> [u8; INLINE] {
        let mut head = [0u8; INLINE];
        let n = s.len().min(INLINE);
        head[..n].copy_from_slice(&s.as_bytes()[..n]);
        head
    }

    /// Whether the slot holds `s` (whose [`Slot::head_of`] is `head`).
    fn holds(&self, s: &str, head: &[u8; INLINE], text: &str) -> bool {
        self.len as usize == s.len()
            && self.head == *head
            && (s.len() <= INLINE || self.name(text) == s)
    }
}

impl Interner {
    /// The number of `s`, numbering it if it is new.
    pub fn intern(&mut self, s: &str) -> u32 {
        self.intern_hashed(HASHER.hash_one(s), s)
    }

    /// [`Interner::intern`] with the hash of `s` already known.
    fn intern_hashed(&mut self, hash: u64, s: &str) -> u32 {
        let Self {
            text,
            starts,
            table,
        } = self;
        let head = Slot::head_of(s);
        if let Some(slot) = table.find(hash, |slot| slot.holds(s, &head, text)) {
            return slot.id;
        }
        let slot = Slot {
            id: starts.len() as u32,
            start: text.len() as u32,
            len: s.len() as u32,
            head,
        };
        starts.push(slot.start);
        text.push_str(s);
        table.insert_unique(hash, slot, |slot| HASHER.hash_one(slot.name(text)));
        slot.id
    }

    /// The number of `s`, if it has one.
    pub fn get(&self, s: &str) -> Option<u32> {
        self.get_hashed(HASHER.hash_one(s), s)
    }

    fn get_hashed(&self, hash: u64, s: &str) -> Option<u32> {
        let head = Slot::head_of(s);
        self.table
            .find(hash, |slot| slot.holds(s, &head, &self.text))
            .map(|slot| slot.id)
    }

    pub fn name(&self, id: u32) -> &str {
        let i = id as usize;
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.text.len(), |e| *e as usize);
        &self.text[self.starts[i] as usize..end]
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

/// Groups `items` by a dense key (a counting sort): `(offsets, values)` where the values of
/// key `k` are `values[offsets[k]..offsets[k + 1]]`, in their original order.
pub(crate) fn group_by(
    keys: usize,
    items: impl Iterator<Item = (usize, u32)> + Clone,
) -> (Vec<usize>, Vec<u32>) {
    let mut offsets = vec![0usize; keys + 1];
    for (k, _) in items.clone() {
        offsets[k + 1] += 1;
    }
    for k in 0..keys {
        offsets[k + 1] += offsets[k];
    }
    let mut next = offsets.clone();
    let mut values = vec![0u32; offsets[keys]];
    for (k, v) in items {
        values[next[k]] = v;
        next[k] += 1;
    }
    (offsets, values)
}

/// The people of a brand: millions of ids, each looked up once per event. A lookup in one
/// big table misses the cache every time, so the table is split by hash into [`PARTS`]
/// parts, each with its own text, and [`People::intern_all`] takes a whole batch of names at
/// once and looks them up part by part: each part's table and text then stay in the cache
/// while its share of the batch is looked up (the partitioned hash join's trick).
///
/// Each part has its own lock, so threads reading one file intern into the same people (they
/// rarely want the same part at once), and the tables they build need no renumbering. A
/// person's number says where it lives: `index in its part × PARTS + part`; so the numbers
/// are dense up to the imbalance of the parts, a few percent at a million people.
pub struct People {
    /// Each part numbers its own names 0, 1, 2, …; a person's number is `that × PARTS + part`.
    parts: Vec<Mutex<Interner>>,
}

const PARTS: usize = 256;

impl Default for People {
    fn default() -> Self {
        Self {
            parts: (0..PARTS).map(|_| Mutex::default()).collect(),
        }
    }
}

/// The part of a hash: bits that neither the table's bucket index (the low bits) nor its
/// tag (the top 7 bits) use, so that the names of one part still spread over its table.
fn part_of(hash: u64) -> usize {
    ((hash >> 32) as usize) % PARTS
}

impl People {
    fn part(&self, part: usize) -> std::sync::MutexGuard<'_, Interner> {
        // A part is consistent after every statement that changes it: a panic elsewhere
        // while its lock was held leaves nothing half done.
        self.parts[part]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The number of `s`, numbering it if it is new.
    pub fn intern(&self, s: &str) -> u32 {
        let hash = HASHER.hash_one(s);
        let part = part_of(hash);
        self.part(part).intern_hashed(hash, s) * PARTS as u32 + part as u32
    }

    /// The numbers of a batch of names ([`NONE`] for none), numbering the new ones.
    pub fn intern_all(&self, names: &[Option<&str>]) -> Vec<u32> {
        let hashes: Vec<u64> = names
            .iter()
            .map(|n| n.map_or(0, |s| HASHER.hash_one(s)))
            .collect();
        let (offsets, order) = group_by(
            PARTS,
            names
                .iter()
                .zip(&hashes)
                .enumerate()
                .filter(|(_, (n, _))| n.is_some())
                .map(|(i, (_, h))| (part_of(*h), i as u32)),
        );
        let mut ids = vec![NONE; names.len()];
        for part in 0..PARTS {
            let share = &order[offsets[part]..offsets[part + 1]];
            if share.is_empty() {
                continue;
            }
            let mut guard = self.part(part);
            for &i in share {
                let i = i as usize;
                if let Some(s) = names[i] {
                    ids[i] = guard.intern_hashed(hashes[i], s) * PARTS as u32 + part as u32;
                }
            }
        }
        ids
    }

    /// The number of `s`, if it has one.
    pub fn get(&self, s: &str) -> Option<u32> {
        let hash = HASHER.hash_one(s);
        let part = part_of(hash);
        self.part(part)
            .get_hashed(hash, s)
            .map(|i| i * PARTS as u32 + part as u32)
    }

    /// The name of number `id`.
    pub fn name(&self, id: u32) -> Option<String> {
        let (index, part) = (id as usize / PARTS, id as usize % PARTS);
        let names = self.part(part);
        (index < names.len()).then(|| names.name(index as u32).to_owned())
    }

    /// One more than the largest number given: how long an array indexed by person must be.
    pub fn len(&self) -> usize {
        (0..PARTS)
            .map(|part| match self.part(part).len() {
                0 => 0,
                count => (count - 1) * PARTS + part + 1,
            })
            .max()
            .unwrap_or(0)
    }

    /// How many people there are.
    pub fn count(&self) -> usize {
        (0..PARTS).map(|part| self.part(part).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }
}

/// An instant as nanoseconds since the Unix epoch. Instants past the year 2262 (or before
/// 1677) are held at the end of that range: their order among themselves is lost, nothing else.
pub fn nanos(ts: Timestamp) -> i64 {
    let n = ts.as_nanosecond();
    i64::try_from(n).unwrap_or(if n < 0 { i64::MIN + 1 } else { i64::MAX })
}

/// The code of an unfollow in [`Table::change_source`].
pub const UNFOLLOW: u8 = u8::MAX;

/// What an action was, in [`Table::act_what`]. Menu clicks carry their category.
pub mod what {
    pub const ARTICLE_OPEN: u8 = 0;
    pub const POST_INTERACTION: u8 = 1;
    /// `MENU + category index` (ecommerce, information, crm).
    pub const MENU: u8 = 2;
    pub const MESSAGE: u8 = 5;
    pub const QR_SCAN: u8 = 6;
    pub const LIVE_VIEW: u8 = 7;
    pub const COUNT: usize = 8;
}

#[derive(Debug, Clone, Copy)]
pub struct PushRow {
    pub ts: i64,
    pub push: u32,
    pub articles: u8,
    pub segmented: bool,
    pub recipients: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct PurchaseRow {
    /// The livestream it came from, or [`NONE`].
    pub live: u32,
    pub person: u32,
    pub amount: f64,
}

/// A brand's events, column by column, in the order they were pushed.
#[derive(Default)]
pub struct Table {
    pub people: People,
    pub pushes: Interner,
    pub lives: Interner,
    /// Follows and unfollows.
    pub change_ts: Vec<i64>,
    pub change_person: Vec<u32>,
    /// The source's index in [`Source::ALL`], or [`UNFOLLOW`].
    pub change_source: Vec<u8>,
    pub push_rows: Vec<PushRow>,
    /// Every action of the spec (opens, interactions and live views too).
    pub act_ts: Vec<i64>,
    pub act_person: Vec<u32>,
    pub act_what: Vec<u8>,
    pub open_push: Vec<u32>,
    pub open_person: Vec<u32>,
    pub open_article: Vec<u8>,
    pub open_screens: Vec<f64>,
    pub interaction_push: Vec<u32>,
    pub interaction_person: Vec<u32>,
    pub view_ts: Vec<i64>,
    pub view_live: Vec<u32>,
    pub view_person: Vec<u32>,
    pub purchases: Vec<PurchaseRow>,
    events: u64,
}

fn source_index(s: Source) -> u8 {
    Source::ALL.iter().position(|x| *x == s).unwrap_or(0) as u8
}

fn category_index(c: MenuCategory) -> u8 {
    MenuCategory::ALL.iter().position(|x| *x == c).unwrap_or(0) as u8
}

/// Splits a file's rows (its row groups have `groups` rows each) into `threads` contiguous
/// runs of the same size but for 1 %: at a row group's boundary when one is that near the even
/// share (a run then reads whole groups), else inside a group (a file written as one group is
/// still read by every thread). Starting inside a group costs little (the rows before the cut
/// are skipped, not decoded); a thread left with a fifth more rows than the other costs the
/// whole run a tenth.
fn split_rows(groups: &[u64], threads: usize) -> Vec<std::ops::Range<u64>> {
    let total: u64 = groups.iter().sum();
    let threads = threads.max(1) as u64;
    let boundaries: Vec<u64> = groups
        .iter()
        .scan(0u64, |at, n| {
            *at += n;
            Some(*at)
        })
        .collect();
    let tolerance = total / (threads * 100);
    let mut cuts = vec![0u64];
    for k in 1..threads {
        let even = total * k / threads;
        let near = boundaries
            .iter()
            .copied()
            .min_by_key(|b| b.abs_diff(even))
            .filter(|b| b.abs_diff(even) <= tolerance);
        let cut = near.unwrap_or(even).max(*cuts.last().unwrap_or(&0));
        cuts.push(cut);
    }
    cuts.push(total);
    cuts.windows(2)
        .filter(|w| w[1] > w[0])
        .map(|w| w[0]..w[1])
        .collect()
}

impl Table {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a table from owned events.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a events::Event>) -> Self {
        let mut t = Self::new();
        for e in events {
            t.push(e.as_ref());
        }
        t
    }

    /// Reads an events file (Parquet or JSON Lines) straight into a table. Without
    /// `skip_bad`, a file with any bad row is refused whole; with it, the bad rows come back.
    ///
    /// A Parquet file is read by as many threads as the machine has cores, each over a run of
    /// row groups into its own table; the tables are then joined in file order.
    pub fn read(path: &Path, skip_bad: bool) -> Result<(Self, Vec<EventError>), ReadError> {
        let (t, skipped) = if path.extension().is_some_and(|e| e == "parquet") {
            Self::read_parquet(path)?
        } else {
            let mut t = Self::new();
            let skipped = events::visit_file(path, |e| t.push(e))?;
            (t, skipped)
        };
        if !skipped.is_empty() && !skip_bad {
            return Err(ReadError::Invalid(skipped));
        }
        Ok((t, skipped))
    }

    fn read_parquet(path: &Path) -> Result<(Self, Vec<EventError>), ReadError> {
        let groups = events::parquet_row_groups(path)?;
        let total: u64 = groups.iter().sum();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, usize::try_from(total / 10_000).unwrap_or(1).max(1));
        let runs = split_rows(&groups, threads);
        let people = People::default();
        let parts = std::thread::scope(|scope| {
            let handles: Vec<_> = runs
                .into_iter()
                .map(|rows| {
                    let people = &people;
                    scope.spawn(move || {
                        let mut t = Self::new();
                        events::visit_parquet_rows(path, rows, |batch| {
                            t.push_all_shared(people, batch)
                        })
                        .map(|skipped| (t, skipped))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(std::io::Error::other("a reader thread failed").into())
                    })
                })
                .collect::<Result<Vec<_>, ReadError>>()
        })?;
        let mut parts = parts.into_iter();
        let (mut table, mut skipped) = parts.next().unwrap_or_default();
        for (t, s) in parts {
            table.append_numbered(t);
            skipped.extend(s);
        }
        table.people = people;
        Ok((table, skipped))
    }

    /// Appends `other`, whose people are already numbered as this table's.
    fn append_numbered(&mut self, other: Table) {
        let remap = |into: &mut Interner, from: &Interner| -> Vec<u32> {
            (0..from.len() as u32)
                .map(|i| into.intern(from.name(i)))
                .collect()
        };
        let pushes = remap(&mut self.pushes, &other.pushes);
        let lives = remap(&mut self.lives, &other.lives);
        let map = |ids: &[u32], v: u32| if v == NONE { NONE } else { ids[v as usize] };
        self.events += other.events;
        self.change_ts.extend(other.change_ts);
        self.change_person.extend(other.change_person);
        self.change_source.extend(other.change_source);
        self.push_rows
            .extend(other.push_rows.iter().map(|r| PushRow {
                push: map(&pushes, r.push),
                ..*r
            }));
        self.act_ts.extend(other.act_ts);
        self.act_person.extend(other.act_person);
        self.act_what.extend(other.act_what);
        self.open_push
            .extend(other.open_push.iter().map(|p| map(&pushes, *p)));
        self.open_person.extend(other.open_person);
        self.open_article.extend(other.open_article);
        self.open_screens.extend(other.open_screens);
        self.interaction_push
            .extend(other.interaction_push.iter().map(|p| map(&pushes, *p)));
        self.interaction_person.extend(other.interaction_person);
        self.view_ts.extend(other.view_ts);
        self.view_live
            .extend(other.view_live.iter().map(|l| map(&lives, *l)));
        self.view_person.extend(other.view_person);
        self.purchases
            .extend(other.purchases.iter().map(|b| PurchaseRow {
                live: map(&lives, b.live),
                ..*b
            }));
    }

    /// How many events were pushed.
    pub fn len(&self) -> u64 {
        self.events
    }

    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    fn action(&mut self, ts: i64, person: u32, what: u8) {
        self.act_ts.push(ts);
        self.act_person.push(person);
        self.act_what.push(what);
    }

    /// Appends one event.
    pub fn push(&mut self, e: EventRef<'_>) {
        let person = e.follower.map_or(NONE, |p| self.people.intern(p));
        self.push_as(e, person);
    }

    /// Appends a batch of events whose people `people` numbers (looked up together, see
    /// [`People`]): how threads that read parts of one file share their numbering.
    fn push_all_shared(&mut self, people: &People, batch: &[EventRef<'_>]) {
        let names: Vec<Option<&str>> = batch.iter().map(|e| e.follower).collect();
        let ids = people.intern_all(&names);
        for (e, person) in batch.iter().zip(ids) {
            self.push_as(*e, person);
        }
    }

    fn push_as(&mut self, e: EventRef<'_>, person: u32) {
        self.events += 1;
        let ts = nanos(e.ts);
        match e.kind {
            KindRef::Follow { source } => {
                self.change_ts.push(ts);
                self.change_person.push(person);
                self.change_source.push(source_index(source));
            }
            KindRef::Unfollow => {
                self.change_ts.push(ts);
                self.change_person.push(person);
                self.change_source.push(UNFOLLOW);
            }
            KindRef::Push {
                push,
                articles,
                segmented,
                recipients,
            } => {
                let push = self.pushes.intern(push);
                self.push_rows.push(PushRow {
                    ts,
                    push,
                    articles,
                    segmented,
                    recipients,
                });
            }
            KindRef::ArticleOpen {
                push,
                article,
                screens,
            } => {
                self.action(ts, person, what::ARTICLE_OPEN);
                let push = self.pushes.intern(push);
                self.open_push.push(push);
                self.open_person.push(person);
                self.open_article.push(article);
                self.open_screens.push(screens);
            }
            KindRef::PostInteraction { push, .. } => {
                self.action(ts, person, what::POST_INTERACTION);
                let push = self.pushes.intern(push);
                self.interaction_push.push(push);
                self.interaction_person.push(person);
            }
            KindRef::MenuClick { category } => {
                self.action(ts, person, what::MENU + category_index(category));
            }
            KindRef::Message => self.action(ts, person, what::MESSAGE),
            KindRef::QrScan => self.action(ts, person, what::QR_SCAN),
            KindRef::LiveView { live } => {
                self.action(ts, person, what::LIVE_VIEW);
                let live = self.lives.intern(live);
                self.view_ts.push(ts);
                self.view_live.push(live);
                self.view_person.push(person);
            }
            KindRef::Purchase { live, amount, .. } => {
                let live = live.map_or(NONE, |l| self.lives.intern(l));
                self.purchases.push(PurchaseRow {
                    live,
                    person,
                    amount,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_split_evenly_at_group_boundaries_when_near_else_inside_groups() {
        // Twelve groups of 1,000: the halves meet at a boundary.
        assert_eq!(
            super::split_rows(&[1_000; 12], 2),
            vec![0..6_000, 6_000..12_000]
        );
        // One group: cut inside it.
        assert_eq!(
            super::split_rows(&[10_001], 2),
            vec![0..5_000, 5_000..10_001]
        );
        // A boundary near the even share (within a hundredth of it) is taken.
        assert_eq!(
            super::split_rows(&[4_960, 5_040], 2),
            vec![0..4_960, 4_960..10_000]
        );
        // One farther is not: pyarrow's 1,048,576-row groups in a file of 11.55 M rows.
        let mut pyarrow = vec![1_048_576; 11];
        pyarrow.push(11_550_000 - 11 * 1_048_576);
        assert_eq!(
            super::split_rows(&pyarrow, 2),
            vec![0..5_775_000, 5_775_000..11_550_000]
        );
        assert_eq!(
            super::split_rows(&[4_800, 5_200], 2),
            vec![0..5_000, 5_000..10_000]
        );
        // Every row once, in order, whatever the threads.
        for threads in 1..=5 {
            let runs = super::split_rows(&[3, 700, 65_536, 1], threads);
            assert_eq!(runs.first().map(|r| r.start), Some(0));
            assert_eq!(runs.last().map(|r| r.end), Some(66_240));
            assert!(runs.windows(2).all(|w| w[0].end == w[1].start));
        }
        assert!(super::split_rows(&[], 2).is_empty());
    }

    #[test]
    fn interning_numbers_each_string_once_in_order() {
        let mut i = Interner::default();
        let words = ["b", "a", "", "b", "long-name-✓", "a"];
        let ids: Vec<u32> = words.iter().map(|w| i.intern(w)).collect();
        assert_eq!(ids, vec![0, 1, 2, 0, 3, 1]);
        assert_eq!(i.len(), 4);
        assert_eq!(
            (0..4).map(|id| i.name(id)).collect::<Vec<_>>(),
            vec!["b", "a", "", "long-name-✓"]
        );
        assert_eq!(i.get("long-name-✓"), Some(3));
        assert_eq!(i.get("c"), None);
        // Growth rehashes without losing anything.
        for n in 0..10_000 {
            i.intern(&format!("p{n}"));
        }
        assert_eq!(i.get("p9999"), Some(4 + 9999));
        assert_eq!(i.name(4 + 5000), "p5000");
    }

    #[test]
    fn people_are_numbered_once_each_one_by_one_or_in_batches() {
        let people = People::default();
        let names: Vec<String> = (0..5_000).map(|i| format!("o{i:08}")).collect();
        let one_by_one: Vec<u32> = names[..2_500].iter().map(|n| people.intern(n)).collect();
        let batch: Vec<Option<&str>> = names
            .iter()
            .map(|n| Some(n.as_str()))
            .chain([None])
            .collect();
        let ids = people.intern_all(&batch);
        assert_eq!(
            &ids[..2_500],
            one_by_one.as_slice(),
            "known names keep their number"
        );
        assert_eq!(ids[5_000], NONE);
        let mut distinct = ids[..5_000].to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!((distinct.len(), people.count()), (5_000, 5_000));
        assert!(people.len() > *distinct.last().unwrap_or(&0) as usize);
        for (name, id) in names.iter().zip(&ids) {
            assert_eq!(people.get(name), Some(*id));
            assert_eq!(people.name(*id).as_deref(), Some(name.as_str()));
        }
        assert_eq!(people.get("nobody"), None);
    }
}
