//! The contenders: victim-pool and every baseline behind one `Contender` trait.

use super::*;

/// One implementation, as the workloads drive it.
pub(crate) trait Contender: Sync + Sized {
    /// The row name in every table.
    const NAME: &'static str;
    type Payload: Payload;
    /// Per-thread state, made once per thread per row.
    type Handle<'a>
    where
        Self: 'a;
    /// What a caller holds between a take and a put.
    type Held<'a>: Send
    where
        Self: 'a;
    /// Why it cannot drop a value instead of returning it (`starvation`).
    const CANNOT_DISCARD: Option<&'static str> = None;
    /// Why it has no cleanup (`cleanup-pause`; `burst-then-idle` shows what
    /// that means for memory).
    const CANNOT_CLEAN: Option<&'static str>;

    fn make() -> Self;
    fn handle(&self) -> Self::Handle<'_>;
    fn take<'a>(&'a self, handle: &mut Self::Handle<'a>) -> Self::Held<'a>;
    fn put<'a>(&'a self, handle: &mut Self::Handle<'a>, held: Self::Held<'a>);
    fn touch(held: &mut Self::Held<'_>);
    fn touch_other(held: &mut Self::Held<'_>);
    /// Drops a value without returning it (only when `CANNOT_DISCARD` is
    /// `None`).
    fn discard(held: Self::Held<'_>) {
        drop(held);
    }
    /// One aging step; a no-op for contenders without one.
    fn cleanup(&self) {}
    fn stats(&self) -> Option<PoolStats> {
        None
    }
    /// Starts aging at `interval` until the returned handle drops.
    fn start_sweeper(&self, _interval: Duration) -> Option<Sweeper> {
        None
    }
}

pub(crate) const NO_CLEANUP: &str =
    "it has no cleanup: pooled values stay until the pool is dropped";

/// victim-pool's `Pool`, through `take` and `put`.
pub(crate) struct Victim<P: Payload>(Pin<Box<Pool<P>>>);

impl<P: Payload> Contender for Victim<P> {
    const NAME: &'static str = "victim-pool";
    type Payload = P;
    type Handle<'a> = ();
    type Held<'a> = P;
    const CANNOT_CLEAN: Option<&'static str> = None;

    fn make() -> Self {
        Victim(Box::pin(Pool::new(counted::<P> as fn() -> P)))
    }
    fn handle(&self) {}
    #[inline]
    fn take(&self, _: &mut ()) -> P {
        self.0.take()
    }
    #[inline]
    fn put(&self, _: &mut (), held: P) {
        self.0.put(held);
    }
    #[inline]
    fn touch(held: &mut P) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut P) {
        held.touch_other();
    }
    fn cleanup(&self) {
        self.0.cleanup();
    }
    fn stats(&self) -> Option<PoolStats> {
        Some(self.0.stats())
    }
    fn start_sweeper(&self, interval: Duration) -> Option<Sweeper> {
        self.0.as_ref().register_pinned();
        Some(Sweeper::start(interval))
    }
}

/// victim-pool's `Pool` through `get`: the guard's drop puts the value back.
pub(crate) struct VictimGuard<P: Payload>(Victim<P>);

impl<P: Payload> Contender for VictimGuard<P> {
    const NAME: &'static str = "victim-pool get() + guard drop";
    type Payload = P;
    type Handle<'a> = ();
    type Held<'a> = PoolGuard<'a, P>;
    const CANNOT_CLEAN: Option<&'static str> = None;

    fn make() -> Self {
        VictimGuard(Victim::make())
    }
    fn handle(&self) {}
    #[inline]
    fn take(&self, _: &mut ()) -> PoolGuard<'_, P> {
        self.0 .0.get()
    }
    #[inline]
    fn put<'a>(&'a self, _: &mut (), held: PoolGuard<'a, P>) {
        drop(held);
    }
    #[inline]
    fn touch(held: &mut PoolGuard<'_, P>) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut PoolGuard<'_, P>) {
        held.touch_other();
    }
    fn cleanup(&self) {
        self.0.cleanup();
    }
    fn stats(&self) -> Option<PoolStats> {
        self.0.stats()
    }
}

/// [`Victim`] under the name the get-guard groups give it, where it stands
/// beside the guard.
pub(crate) struct VictimMoving<P: Payload>(Victim<P>);

impl<P: Payload> Contender for VictimMoving<P> {
    const NAME: &'static str = "victim-pool take() + put()";
    type Payload = P;
    type Handle<'a> = ();
    type Held<'a> = P;
    const CANNOT_CLEAN: Option<&'static str> = None;

    fn make() -> Self {
        VictimMoving(Victim::make())
    }
    fn handle(&self) {}
    #[inline]
    fn take(&self, handle: &mut ()) -> P {
        self.0.take(handle)
    }
    #[inline]
    fn put(&self, handle: &mut (), held: P) {
        self.0.put(handle, held);
    }
    #[inline]
    fn touch(held: &mut P) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut P) {
        held.touch_other();
    }
    fn cleanup(&self) {
        self.0.cleanup();
    }
    fn stats(&self) -> Option<PoolStats> {
        self.0.stats()
    }
}

/// A `thread_local!` `RefCell<Vec<T>>` free list: the floor.
pub(crate) struct Floor<P>(PhantomData<fn() -> P>);

/// Empties this thread's list when the thread's part of a row ends.
pub(crate) struct FloorHandle<P: Payload>(PhantomData<fn() -> P>);

impl<P: Payload> Drop for FloorHandle<P> {
    fn drop(&mut self) {
        let list = P::free_list().try_with(|list| std::mem::take(&mut *list.borrow_mut()));
        drop(list);
    }
}

impl<P: Payload> Contender for Floor<P> {
    const NAME: &'static str = "thread_local! RefCell Vec free list (floor)";
    type Payload = P;
    type Handle<'a> = FloorHandle<P>;
    type Held<'a> = P;
    const CANNOT_CLEAN: Option<&'static str> = Some(NO_CLEANUP);

    fn make() -> Self {
        Floor(PhantomData)
    }
    fn handle(&self) -> FloorHandle<P> {
        FloorHandle(PhantomData)
    }
    #[inline]
    fn take(&self, _: &mut FloorHandle<P>) -> P {
        let pooled = P::free_list().with_borrow_mut(Vec::pop);
        pooled.unwrap_or_else(counted)
    }
    #[inline]
    fn put(&self, _: &mut FloorHandle<P>, held: P) {
        P::free_list().with_borrow_mut(|list| list.push(held));
    }
    #[inline]
    fn touch(held: &mut P) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut P) {
        held.touch_other();
    }
}

/// The ablation: a crossbeam-deque `Worker` (LIFO) per thread, and every
/// thread's `Stealer`; takes pop the own worker, then steal the others, then
/// create. victim-pool without the private slot and the victim cache.
pub(crate) struct DequePool<P> {
    stealers: RwLock<Vec<Stealer<P>>>,
}

impl<P: Payload> DequePool<P> {
    pub(crate) fn steal(&self, own: usize) -> Option<P> {
        let stealers = self.stealers.read().expect("stealers lock");
        let n = stealers.len();
        for k in 1..=n {
            loop {
                match stealers[(own + k) % n].steal() {
                    Steal::Success(value) => return Some(value),
                    Steal::Empty => break,
                    Steal::Retry => {}
                }
            }
        }
        None
    }
}

impl<P: Payload> Contender for DequePool<P> {
    const NAME: &'static str = "crossbeam-deque Worker/Stealer pool (ablation)";
    type Payload = P;
    type Handle<'a> = (Worker<P>, usize);
    type Held<'a> = P;
    const CANNOT_CLEAN: Option<&'static str> = Some(NO_CLEANUP);

    fn make() -> Self {
        DequePool {
            stealers: RwLock::new(Vec::new()),
        }
    }
    fn handle(&self) -> (Worker<P>, usize) {
        let worker = Worker::new_lifo();
        let mut stealers = self.stealers.write().expect("stealers lock");
        stealers.push(worker.stealer());
        (worker, stealers.len() - 1)
    }
    #[inline]
    fn take(&self, handle: &mut (Worker<P>, usize)) -> P {
        match handle.0.pop() {
            Some(value) => value,
            None => self.steal(handle.1).unwrap_or_else(counted),
        }
    }
    #[inline]
    fn put(&self, handle: &mut (Worker<P>, usize), held: P) {
        handle.0.push(held);
    }
    #[inline]
    fn touch(held: &mut P) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut P) {
        held.touch_other();
    }
}

pub(crate) type RegexPool<P> = regex_automata::util::pool::Pool<P, fn() -> P>;
pub(crate) type RegexGuard<'a, P> = regex_automata::util::pool::PoolGuard<'a, P, fn() -> P>;

/// regex-automata's `util::pool::Pool`: an owner slot for the first thread,
/// then stacks behind mutexes picked by thread id.
pub(crate) struct Regex<P: Payload>(RegexPool<P>);

impl<P: Payload> Contender for Regex<P> {
    const NAME: &'static str = "regex-automata util::pool::Pool";
    type Payload = P;
    type Handle<'a> = ();
    type Held<'a> = RegexGuard<'a, P>;
    const CANNOT_DISCARD: Option<&'static str> =
        Some("a guard can only put its value back: there is no way to drop it instead");
    const CANNOT_CLEAN: Option<&'static str> = Some(NO_CLEANUP);

    fn make() -> Self {
        Regex(RegexPool::new(counted::<P> as fn() -> P))
    }
    fn handle(&self) {}
    #[inline]
    fn take(&self, _: &mut ()) -> RegexGuard<'_, P> {
        self.0.get()
    }
    #[inline]
    fn put<'a>(&'a self, _: &mut (), held: RegexGuard<'a, P>) {
        RegexGuard::put(held);
    }
    #[inline]
    fn touch(held: &mut RegexGuard<'_, P>) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut RegexGuard<'_, P>) {
        held.touch_other();
    }
}

/// lockfree-object-pool's `LinearObjectPool`: values live in pages of 32
/// slots; a guard's drop frees its slot.
pub(crate) struct Linear<P: Payload>(LinearObjectPool<P>);

impl<P: Payload> Contender for Linear<P> {
    const NAME: &'static str = "lockfree-object-pool LinearObjectPool";
    type Payload = P;
    type Handle<'a> = ();
    type Held<'a> = LinearReusable<'a, P>;
    const CANNOT_DISCARD: Option<&'static str> =
        Some("values live in the pool's pages: a guard can only give its slot back");
    const CANNOT_CLEAN: Option<&'static str> = Some(NO_CLEANUP);

    fn make() -> Self {
        Linear(LinearObjectPool::new(counted::<P> as fn() -> P, |_| {}))
    }
    fn handle(&self) {}
    #[inline]
    fn take(&self, _: &mut ()) -> LinearReusable<'_, P> {
        self.0.pull()
    }
    #[inline]
    fn put<'a>(&'a self, _: &mut (), held: LinearReusable<'a, P>) {
        drop(held);
    }
    #[inline]
    fn touch(held: &mut LinearReusable<'_, P>) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut LinearReusable<'_, P>) {
        held.touch_other();
    }
}

/// opool's allocator: the counted create function.
pub(crate) struct OpoolCreate<P>(PhantomData<fn() -> P>);

impl<P: Payload> PoolAllocator<P> for OpoolCreate<P> {
    fn allocate(&self) -> P {
        counted()
    }
}

/// opool's concurrent `Pool`: a crossbeam `ArrayQueue` of
/// [`OPOOL_CAPACITY`] values; puts beyond it drop the value.
pub(crate) struct Opool<P: Payload>(opool::Pool<OpoolCreate<P>, P>);

impl<P: Payload> Contender for Opool<P> {
    const NAME: &'static str = "opool Pool (capacity 1024)";
    type Payload = P;
    type Handle<'a> = ();
    type Held<'a> = RefGuard<'a, OpoolCreate<P>, P>;
    const CANNOT_CLEAN: Option<&'static str> =
        Some("it has no cleanup: up to its capacity of values stay until the pool is dropped");

    fn make() -> Self {
        Opool(opool::Pool::new(OPOOL_CAPACITY, OpoolCreate(PhantomData)))
    }
    fn handle(&self) {}
    #[inline]
    fn take(&self, _: &mut ()) -> RefGuard<'_, OpoolCreate<P>, P> {
        self.0.get()
    }
    #[inline]
    fn put<'a>(&'a self, _: &mut (), held: RefGuard<'a, OpoolCreate<P>, P>) {
        drop(held);
    }
    #[inline]
    fn touch(held: &mut RefGuard<'_, OpoolCreate<P>, P>) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut RefGuard<'_, OpoolCreate<P>, P>) {
        held.touch_other();
    }
    fn discard(held: RefGuard<'_, OpoolCreate<P>, P>) {
        drop(held.into_inner());
    }
}

/// object-pool's `Pool`: a `parking_lot::Mutex<Vec<T>>`.
pub(crate) struct ObjectPool<P: Payload>(object_pool::Pool<P>);

impl<P: Payload> Contender for ObjectPool<P> {
    const NAME: &'static str = "object-pool Pool (Mutex + Vec)";
    type Payload = P;
    type Handle<'a> = ();
    type Held<'a> = Reusable<'a, P>;
    const CANNOT_CLEAN: Option<&'static str> = Some(NO_CLEANUP);

    fn make() -> Self {
        ObjectPool(object_pool::Pool::new(0, counted::<P>))
    }
    fn handle(&self) {}
    #[inline]
    fn take(&self, _: &mut ()) -> Reusable<'_, P> {
        self.0.pull(counted::<P>)
    }
    #[inline]
    fn put<'a>(&'a self, _: &mut (), held: Reusable<'a, P>) {
        drop(held);
    }
    #[inline]
    fn touch(held: &mut Reusable<'_, P>) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut Reusable<'_, P>) {
        held.touch_other();
    }
    fn discard(held: Reusable<'_, P>) {
        drop(held.detach().1);
    }
}

/// No pool: every take allocates a zeroed block of the payload's size (and
/// pays its creation cost), every put frees it.
pub(crate) struct Plain<P, A>(PhantomData<fn() -> (P, A)>);

impl<P: Payload, A: RawAlloc> Contender for Plain<P, A> {
    const NAME: &'static str = A::ROW;
    type Payload = P;
    type Handle<'a> = ();
    type Held<'a> = Heap<A, P>;
    const CANNOT_CLEAN: Option<&'static str> =
        Some("nothing is pooled, so there is nothing to clean");

    fn make() -> Self {
        Plain(PhantomData)
    }
    fn handle(&self) {}
    #[inline]
    fn take(&self, _: &mut ()) -> Heap<A, P> {
        CREATED.with(|c| c.set(c.get() + 1));
        P::creation_cost();
        Heap::new()
    }
    #[inline]
    fn put(&self, _: &mut (), held: Heap<A, P>) {
        drop(held);
    }
    #[inline]
    fn touch(held: &mut Heap<A, P>) {
        held.bump(0);
    }
    #[inline]
    fn touch_other(held: &mut Heap<A, P>) {
        held.bump(1);
    }
}

/// Calls `visit` once per contender, in row order.
pub(crate) trait Visit<P: Payload> {
    fn visit<C: Contender<Payload = P>>(&mut self);
}

/// The rows of a group: which contenders run it, in row order.
pub(crate) trait Roster {
    /// The roster's name in a callgrind child's specification.
    const NAME: &'static str;
    fn each<P: Payload>(v: &mut impl Visit<P>);
}

/// Every contender: the pool, throughput and handoff groups.
pub(crate) struct Everyone;

impl Roster for Everyone {
    const NAME: &'static str = "everyone";
    fn each<P: Payload>(v: &mut impl Visit<P>) {
        v.visit::<Victim<P>>();
        v.visit::<Floor<P>>();
        v.visit::<DequePool<P>>();
        v.visit::<Regex<P>>();
        v.visit::<Linear<P>>();
        v.visit::<Opool<P>>();
        v.visit::<ObjectPool<P>>();
        v.visit::<Plain<P, System>>();
        v.visit::<Plain<P, MiMalloc>>();
    }
}

/// The get-guard groups (issue 11): victim-pool's guard against its own
/// moving take/put, the floor and regex-automata's guard.
pub(crate) struct GuardRows;

impl Roster for GuardRows {
    const NAME: &'static str = "guard";
    fn each<P: Payload>(v: &mut impl Visit<P>) {
        v.visit::<VictimGuard<P>>();
        v.visit::<VictimMoving<P>>();
        v.visit::<Floor<P>>();
        v.visit::<Regex<P>>();
    }
}

pub(crate) fn each_contender<P: Payload>(v: &mut impl Visit<P>) {
    Everyone::each::<P>(v);
}

pub(crate) fn roster_names<P: Payload, R: Roster>() -> Vec<&'static str> {
    struct Names(Vec<&'static str>);
    impl<P: Payload> Visit<P> for Names {
        fn visit<C: Contender<Payload = P>>(&mut self) {
            self.0.push(C::NAME);
        }
    }
    let mut names = Names(Vec::new());
    R::each::<P>(&mut names);
    names.0
}

pub(crate) fn contender_names<P: Payload>() -> Vec<&'static str> {
    roster_names::<P, Everyone>()
}
