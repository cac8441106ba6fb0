// Live-handle registry: turns NULL, stale, foreign and double-freed handles into INVALID_HANDLE
// instead of a crash (toolchain.md §3).
//
// A handle is not an address: it is a never-reused serial number (shifted so it never looks like a small
// integer) that maps to the retained Swift object and its type. A stale handle therefore never aliases a
// newer object, and a handle of one kind passed where another is expected is caught.
import Glibc
import GradusRuntime

/// The process-wide table of live handles.
final class HandleRegistry: @unchecked Sendable {
    static let shared = HandleRegistry()

    private struct Entry {
        let object: AnyObject
        let kind: ObjectIdentifier
    }

    // Raw pthread mutex: the table holds non-Sendable objects, so Synchronization.Mutex's `sending`
    // rules would get in the way; we own the locking here.
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private var entries: [UInt: Entry] = [:]
    private var nextSerial: UInt = 1

    private init() {
        lock = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
    }

    /// Registers `object` and returns its new handle (retained until `remove`).
    func add<T: AnyObject>(_ object: T) -> OpaquePointer {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        let key = nextSerial << 4
        nextSerial &+= 1
        entries[key] = Entry(object: object, kind: ObjectIdentifier(T.self))
        return OpaquePointer(bitPattern: key)!
    }

    /// The live object of type `T` behind `handle`, or `invalidHandle`.
    func get<T: AnyObject>(_ handle: OpaquePointer?, as type: T.Type, _ name: StaticString) throws(GradusError) -> T {
        guard let handle else { throw .invalidHandle("\(name) is NULL") }
        let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle)))
        pthread_mutex_lock(lock)
        let entry = entries[key]
        pthread_mutex_unlock(lock)
        guard let entry else { throw .invalidHandle("\(name) is not a live handle (destroyed, stale or foreign)") }
        guard entry.kind == ObjectIdentifier(T.self), let object = entry.object as? T else {
            throw .invalidHandle("\(name) is a handle of another kind (expected \(T.self))")
        }
        return object
    }

    /// Unregisters `handle` and drops the registry's reference. NULL is a no-op (returns true);
    /// an unknown or already removed handle returns false.
    @discardableResult
    func remove<T: AnyObject>(_ handle: OpaquePointer?, as type: T.Type) -> Bool {
        guard let handle else { return true }
        let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle)))
        pthread_mutex_lock(lock)
        var removed: Entry? = nil
        if let entry = entries[key], entry.kind == ObjectIdentifier(T.self) {
            removed = entries.removeValue(forKey: key)
        }
        pthread_mutex_unlock(lock)
        // `removed` is released here, outside the lock, so a deinit may call back into the registry.
        return removed != nil
    }

    /// Number of live handles (for leak tests).
    var count: Int {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return entries.count
    }
}
