import Glibc
import _GradusShims

/// The job workers read once their sequence number changes. The caller writes it only while every worker
/// of the previous job has reported done, so plain fields suffice (the C atomics order the accesses).
struct PoolJob {
    var body: ((Range<Int>, Int) -> Void)?
    var count = 0
    var slices = 0
    var isShutdown = false
}

/// What one worker thread needs; passed retained through `pthread_create`.
final class WorkerContext: @unchecked Sendable {
    let sync: OpaquePointer
    let job: UnsafeMutablePointer<PoolJob>
    let index: Int32
    let cpu: Int32       // -1: not pinned
    let spinNanoseconds: Int64
    init(sync: OpaquePointer, job: UnsafeMutablePointer<PoolJob>, index: Int32, cpu: Int32, spinNanoseconds: Int64) {
        self.sync = sync; self.job = job; self.index = index; self.cpu = cpu; self.spinNanoseconds = spinNanoseconds
    }
}

/// The worker threads of one pool configuration (threads 1..<threadCount; thread 0 is the caller).
final class Crew: @unchecked Sendable {
    let threadCount: Int
    private let sync: OpaquePointer
    private let job: UnsafeMutablePointer<PoolJob>
    private let spinNanoseconds: Int64
    private var threads: [pthread_t] = []
    private var isStopped = false

    private init(threadCount: Int, sync: OpaquePointer, spinNanoseconds: Int64) {
        self.threadCount = threadCount
        self.sync = sync
        self.spinNanoseconds = spinNanoseconds
        job = .allocate(capacity: 1)
        job.initialize(to: PoolJob())
    }

    deinit {
        stop()
        job.deinitialize(count: 1)
        job.deallocate()
        gradus__sync_destroy(sync)
    }

    /// Starts the workers of `plan`, pinned where the plan says and the process mask allows; nil for one thread.
    static func start(plan: ThreadPlan) throws(GradusError) -> Crew? {
        let n = plan.threadCount
        guard n > 1 else { return nil }
        guard let sync = gradus__sync_create(Int32(n)) else { throw .outOfMemory("thread pool state for \(n) threads") }
        let crew = Crew(threadCount: n, sync: sync, spinNanoseconds: plan.spinNanoseconds)
        let mask = Set(ThreadPool.inheritedAffinity())
        for e in plan.entries.dropFirst() {
            let cpu = e.isPinned && mask.contains(e.cpu) ? Int32(e.cpu) : -1
            let ctx = WorkerContext(sync: sync, job: crew.job, index: Int32(e.thread), cpu: cpu,
                                    spinNanoseconds: plan.spinNanoseconds)
            let raw = Unmanaged.passRetained(ctx).toOpaque()
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { raw in
                Crew.workerMain(Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue())
                return nil
            }, raw)
            guard rc == 0 else {
                Unmanaged<WorkerContext>.fromOpaque(raw).release()
                crew.stop()   // joins the workers started so far
                throw .internal("pthread_create failed for worker \(e.thread) (errno \(rc))")
            }
            crew.threads.append(tid)
        }
        return crew
    }

    /// Runs one job: hands slices 1..<slices to workers, runs slice 0, waits for all.
    @inline(__always)
    func run(_ count: Int, slices: Int, _ body: (Range<Int>, Int) -> Void) {
        withoutActuallyEscaping(body) { escapable in
            job.pointee.body = escapable
            job.pointee.count = count
            job.pointee.slices = slices
            gradus__sync_begin(sync, Int32(slices - 1))
            for w in 1..<slices { gradus__sync_signal(sync, Int32(w)) }
            escapable(ThreadPool.slice(0, of: count, slices: slices), 0)
            gradus__sync_join(sync, spinNanoseconds)
            job.pointee.body = nil   // the last reference: withoutActuallyEscaping checks it is gone
        }
    }

    func park() { gradus__sync_park(sync) }

    /// Stops and joins every worker (idempotent). Must not race a `run`.
    func stop() {
        guard !isStopped else { return }
        isStopped = true
        guard !threads.isEmpty else { return }
        job.pointee.isShutdown = true
        gradus__sync_begin(sync, Int32(threads.count))
        for w in 1...threads.count { gradus__sync_signal(sync, Int32(w)) }
        for t in threads { pthread_join(t, nil) }
        threads.removeAll()
    }

    private static func workerMain(_ ctx: WorkerContext) {
        if ctx.cpu >= 0 { _ = gradus__pin_current_thread(ctx.cpu) }
        var seq: UInt32 = 0
        while true {
            seq = gradus__sync_worker_wait(ctx.sync, ctx.index, seq, ctx.spinNanoseconds)
            if ctx.job.pointee.isShutdown {
                gradus__sync_worker_done(ctx.sync)
                return
            }
            runSlice(ctx.job, Int(ctx.index))
            gradus__sync_worker_done(ctx.sync)
        }
    }

    // A separate frame so the copy of the closure is released before the worker reports done.
    @inline(never)
    private static func runSlice(_ job: UnsafeMutablePointer<PoolJob>, _ w: Int) {
        let slices = job.pointee.slices
        guard w < slices, let body = job.pointee.body else { return }
        body(ThreadPool.slice(w, of: job.pointee.count, slices: slices), w)
    }
}
