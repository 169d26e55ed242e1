using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Kiel.Producing.Internal;

/// <summary>
/// An auto-reset wake-up for the sender thread: many setters, one waiter; sets while the waiter is busy collapse into
/// one wake. The wait is a blocking one on the sender's own thread: a timed wait on the system clock then ends close to
/// its deadline, where a timer-based async wait is quantised by the coarse tick (up to 4 ms late on Linux), which is
/// what a linger of a few milliseconds cannot afford.
/// </summary>
/// <remarks>
/// .NET's timed waits take whole milliseconds, so a wait for the end of a linger that started a fraction of a
/// millisecond before the sender woke (the wake itself takes that long) ended up to a millisecond late, or had to be
/// rounded down and end early. On Linux with the system clock the wait is a <c>ppoll</c> of an eventfd with a
/// nanosecond timeout instead, which ends when the linger does; elsewhere it is a <see cref="ManualResetEventSlim"/> wait
/// rounded up to the next millisecond, and on another clock (a fake one in tests) one that ends on that clock's timer.
/// </remarks>
internal sealed partial class Signal : IDisposable
{
    // No spinning before blocking: the waiter is a dedicated thread, and an idle producer should cost nothing.
    private readonly ManualResetEventSlim _event = new(false, spinCount: 0);
    private readonly TimeProvider? _time;
    private readonly EventFd? _fd;
    // The eventfd path's state: set since the last wait, and whether the waiter may be in ppoll (a set then writes).
    private int _set;
    private int _sleeping;

    /// <param name="time">The clock a timed wait runs on; null is the system clock.</param>
    public Signal(TimeProvider? time = null)
    {
        _time = time is null || time == TimeProvider.System ? null : time;
        if (_time is null && OperatingSystem.IsLinux()) _fd = EventFd.TryCreate();
    }

    /// <summary>Whether timed waits end to the tick (Linux, system clock) rather than on a whole millisecond.</summary>
    internal bool IsPrecise => _fd is not null;

    public void Set()
    {
        if (_fd is null)
        {
            _event.Set();
            return;
        }
        // Both fences are full (Interlocked), so either this set sees the waiter asleep and writes, or the waiter sees
        // the set before it sleeps.
        if (Interlocked.Exchange(ref _set, 1) != 0) return;
        if (Volatile.Read(ref _sleeping) != 0) _fd.Write();
    }

    /// <summary>A wait of <see cref="WaitTicks"/> with no time limit.</summary>
    public const long NoLimit = long.MaxValue;

    /// <summary>
    /// Blocks until set, <paramref name="ticks"/> of the clock's timestamp pass (0 or less: do not block,
    /// <see cref="NoLimit"/>: no time limit) or the token is cancelled; then resets.
    /// </summary>
    public void WaitTicks(long ticks, CancellationToken cancellationToken)
    {
        if (_fd is not null)
        {
            WaitPrecise(ticks, cancellationToken);
            return;
        }
        try
        {
            if (ticks == NoLimit) _event.Wait(cancellationToken);
            else if (ticks > 0 && _time is null) _event.Wait(CeilingMilliseconds(ticks), cancellationToken);
            else if (ticks > 0 && _time is not null)
            {
                // Another clock (a fake one in tests): the wait ends when that clock says so, to its tick.
                // (At most int.MaxValue ms, as a timer takes: the caller's loop waits again if that was not enough.)
                var delay = Math.Min(ticks * ((double)TimeSpan.TicksPerSecond / _time.TimestampFrequency), int.MaxValue * (double)TimeSpan.TicksPerMillisecond);
                using var timeout = new CancellationTokenSource(TimeSpan.FromTicks((long)Math.Ceiling(delay)), _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
                _event.Wait(linked.Token);
            }
        }
        catch (OperationCanceledException) { }
        // Reset before the caller looks at its state: a set after this reset wakes the next wait at once, and a set
        // before it is covered by the look that follows.
        _event.Reset();
    }

    private void WaitPrecise(long ticks, CancellationToken cancellationToken)
    {
        if (ticks > 0 && !cancellationToken.IsCancellationRequested)
        {
            var registration = cancellationToken.CanBeCanceled
                ? cancellationToken.UnsafeRegister(static s => ((Signal)s!).Set(), this)
                : default;
            try
            {
                Interlocked.Exchange(ref _sleeping, 1);
                if (Volatile.Read(ref _set) == 0 && !cancellationToken.IsCancellationRequested) _fd!.Wait(ticks);
            }
            finally
            {
                Volatile.Write(ref _sleeping, 0);
                registration.Dispose();
            }
        }
        // As above: reset before the caller looks at its state.
        Interlocked.Exchange(ref _set, 0);
    }

    private static int CeilingMilliseconds(long ticks) =>
        (int)Math.Min(int.MaxValue, (ticks * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency);

    /// <summary>The timer slack <see cref="PrepareWaiter"/> gives the waiting thread: one microsecond.</summary>
    internal const int WaiterTimerSlackNanoseconds = 1000;

    /// <summary>
    /// Readies the calling thread, the one that will wait, for precise waits: on Linux it lowers the thread's timer
    /// slack (by default 50 µs, by which the kernel may defer the end of a timed wait to group wake-ups) to one
    /// microsecond, so that a linger ends when it is due rather than up to 50 µs after. Only this thread's timers are
    /// affected. Nothing elsewhere, or when the kernel refuses.
    /// </summary>
    public void PrepareWaiter()
    {
        if (_fd is null) return;
        try { _ = prctl(PR_SET_TIMERSLACK, WaiterTimerSlackNanoseconds, 0, 0, 0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    private const int PR_SET_TIMERSLACK = 29;

    [LibraryImport("libc")]
    private static partial int prctl(int option, nuint value, nuint unused3, nuint unused4, nuint unused5);

    /// <summary>Closes the eventfd (once the waiter is gone); a set after it does nothing.</summary>
    public void Dispose() => _fd?.Dispose();

    /// <summary>
    /// A Linux eventfd: written by a set, polled by the waiter with a nanosecond timeout. Its handle is counted while a
    /// call uses it, so a set that comes after the producer closed finds it closed rather than writing to whatever file
    /// took its number.
    /// </summary>
    private sealed partial class EventFd : SafeHandle
    {
        private const int EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800, POLLIN = 0x1, EINTR = 4;

        private EventFd() : base(-1, ownsHandle: true) { }

        public override bool IsInvalid => handle == -1;

        public static EventFd? TryCreate()
        {
            try
            {
                var fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (fd < 0) return null;
                var h = new EventFd();
                h.SetHandle(fd);
                return h;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                return null;
            }
        }

        public unsafe void Write()
        {
            ulong one = 1;
            // A full counter (never, at one per set) or a closed producer: the waiter is awake or gone either way.
            try { write(this, &one, sizeof(ulong)); }
            catch (ObjectDisposedException) { }
        }

        /// <summary>Blocks until written or <paramref name="ticks"/> (Stopwatch ticks; <see cref="NoLimit"/>: no limit) pass.</summary>
        public unsafe void Wait(long ticks)
        {
            var deadline = ticks == NoLimit ? long.MaxValue : Stopwatch.GetTimestamp() + ticks;
            var added = false;
            try
            {
                DangerousAddRef(ref added);
                var fd = (int)handle;
                while (true)
                {
                    var poll = new PollFd { Fd = fd, Events = POLLIN };
                    int result;
                    if (deadline == long.MaxValue) result = ppoll(&poll, 1, null, null);
                    else
                    {
                        var left = deadline - Stopwatch.GetTimestamp();
                        if (left <= 0) return;
                        var nanoseconds = (long)(left * (1_000_000_000.0 / Stopwatch.Frequency));
                        var timeout = new TimeSpec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
                        result = ppoll(&poll, 1, &timeout, null);
                    }
                    if (result > 0)
                    {
                        // Written: take the count, so that the next wait blocks again.
                        ulong count;
                        read(fd, &count, sizeof(ulong));
                        return;
                    }
                    // Timed out: returns once the deadline has passed by the clock the caller measures with.
                    if (result == 0) continue;
                    // Interrupted by a signal: wait on for the rest. Any other failure (none is expected of a valid
                    // eventfd) returns after a short sleep, a wake the sender's loop treats like any other.
                    if (Marshal.GetLastPInvokeError() != EINTR)
                    {
                        Thread.Sleep(1);
                        return;
                    }
                }
            }
            catch (ObjectDisposedException) { }
            finally
            {
                if (added) DangerousRelease();
            }
        }

        protected override bool ReleaseHandle() => close((int)handle) == 0;

        [StructLayout(LayoutKind.Sequential)]
        private struct PollFd
        {
            public int Fd;
            public short Events;
            public short ReturnedEvents;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct TimeSpec
        {
            public long Seconds;
            public long Nanoseconds;
        }

        [LibraryImport("libc", SetLastError = true)]
        private static partial int eventfd(uint initialValue, int flags);

        [LibraryImport("libc", SetLastError = true)]
        private static unsafe partial int ppoll(PollFd* fds, nuint count, TimeSpec* timeout, void* signalMask);

        [LibraryImport("libc", SetLastError = true)]
        private static unsafe partial nint read(int fd, ulong* buffer, nuint count);

        [LibraryImport("libc", SetLastError = true)]
        private static unsafe partial nint write(EventFd fd, ulong* buffer, nuint count);

        [LibraryImport("libc")]
        private static partial int close(int fd);
    }
}
