using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Kiel.Testing;

/// <summary>
/// Finds and loads the librdkafka build shipped by the <c>librdkafka.redist</c> package, and pins
/// assemblies that P/Invoke librdkafka (this one, Confluent.Kafka) to that same file.
/// </summary>
/// <remarks>
/// The runtime's default probe is unsafe here: on Debian 12 the package's plain glibc build needs
/// <c>libsasl2.so.3</c> and fails, after which <c>dlopen("librdkafka.so")</c> silently picks up a
/// system copy (2.0.2 from <c>librdkafka-dev</c>) that lacks the mock APIs and newer symbols.
/// So the file is chosen explicitly, per platform, and every failure is reported.
/// </remarks>
public static class RdKafkaNative
{
    /// <summary>Environment variable that, when set, names the exact librdkafka file to load.</summary>
    public const string PathEnvironmentVariable = "KIEL_LIBRDKAFKA_PATH";

    private static readonly Lock Gate = new();
    private static readonly HashSet<Assembly> Pinned = [];
    private static volatile IntPtr handle;
    private static string? loadedPath;

    /// <summary>The full path of the loaded librdkafka file; loads it on first use.</summary>
    /// <exception cref="DllNotFoundException">No candidate file could be loaded; the message lists each file tried and why it failed.</exception>
    public static string LibraryPath
    {
        get
        {
            EnsureLoaded();
            return loadedPath!;
        }
    }

    /// <summary>The version string of the loaded librdkafka, e.g. <c>2.16.0</c>; loads it on first use.</summary>
    public static string Version
    {
        get
        {
            var fn = NativeLibrary.GetExport(Handle, "rd_kafka_version_str");
            unsafe
            {
                return Marshal.PtrToStringUTF8(((delegate* unmanaged<IntPtr>)fn)()) ?? "";
            }
        }
    }

    /// <summary>The OS handle of the loaded library; loads it on first use.</summary>
    public static IntPtr Handle => EnsureLoaded();

    /// <summary>
    /// Routes every librdkafka P/Invoke of <paramref name="assembly"/> (names <c>librdkafka</c>,
    /// <c>centos8-librdkafka</c>, <c>alpine-librdkafka</c>) to the file this class loads.
    /// Idempotent and thread-safe for a given assembly.
    /// </summary>
    /// <param name="assembly">Typically <c>typeof(Confluent.Kafka.Library).Assembly</c>.</param>
    /// <exception cref="InvalidOperationException">Another resolver was already registered for the assembly by someone else.</exception>
    public static void PinAssembly(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        lock (Gate)
        {
            if (Pinned.Contains(assembly))
            {
                return;
            }

            try
            {
                NativeLibrary.SetDllImportResolver(assembly, Resolve);
            }
            catch (InvalidOperationException ex)
            {
                throw new InvalidOperationException(
                    $"Cannot pin {assembly.GetName().Name} to the librdkafka.redist build: another DllImport resolver is already set for it. " +
                    "Call RdKafkaNative.PinAssembly before any other code registers one, and only from one place.", ex);
            }

            Pinned.Add(assembly);
        }
    }

    /// <summary>Loads the library if needed and returns its handle.</summary>
    /// <exception cref="DllNotFoundException">No candidate file could be loaded; the message lists each file tried and why it failed.</exception>
    public static IntPtr EnsureLoaded()
    {
        if (handle != IntPtr.Zero)
        {
            return handle;
        }

        lock (Gate)
        {
            if (handle == IntPtr.Zero)
            {
                var (h, path) = Load();
                loadedPath = path; // published before the handle that readers test without the lock
                handle = h;
            }

            return handle;
        }
    }

    /// <summary>The files this platform probes, in order (existing or not).</summary>
    public static IReadOnlyList<string> Candidates()
    {
        var result = new List<string>();
        var fromEnv = Environment.GetEnvironmentVariable(PathEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv))
        {
            result.Add(Path.GetFullPath(fromEnv));
        }

        var dirs = new List<string> { AppContext.BaseDirectory };
        var own = Path.GetDirectoryName(typeof(RdKafkaNative).Assembly.Location);
        if (!string.IsNullOrEmpty(own))
        {
            dirs.Add(own);
        }

        foreach (var dir in dirs.Distinct(StringComparer.Ordinal))
        {
            foreach (var (rid, file) in PlatformFiles())
            {
                // A RID-specific build copies native files flat; a portable build keeps runtimes/<rid>/native.
                result.Add(Path.Combine(dir, file));
                result.Add(Path.Combine(dir, "runtimes", rid, "native", file));
                if (rid.StartsWith("win-", StringComparison.Ordinal))
                {
                    // The package's .props also copies the Windows DLLs to librdkafka/x64|x86.
                    result.Add(Path.Combine(dir, "librdkafka", rid[4..], file));
                }
            }
        }

        return result.Distinct(StringComparer.Ordinal).ToList();
    }

    private static IEnumerable<(string Rid, string File)> PlatformFiles()
    {
        var arch = RuntimeInformation.OSArchitecture switch
        {
            Architecture.X64 => "x64",
            Architecture.Arm64 => "arm64",
            Architecture.X86 => "x86",
            Architecture.S390x => "s390x",
            var other => other.ToString().ToLowerInvariant(),
        };

        if (OperatingSystem.IsWindows())
        {
            yield return ($"win-{arch}", "librdkafka.dll");
        }
        else if (OperatingSystem.IsMacOS())
        {
            yield return ($"osx-{arch}", "librdkafka.dylib");
        }
        else if (OperatingSystem.IsLinux())
        {
            var rid = $"linux-{arch}";
            if (RuntimeInformation.RuntimeIdentifier.Contains("musl", StringComparison.Ordinal))
            {
                yield return (rid, "alpine-librdkafka.so");
                yield return (rid, "librdkafka.so");
            }
            else if (arch == "x64")
            {
                // The plain glibc build needs libsasl2.so.3, missing on Debian 12; the CentOS 8 build needs only libc.
                yield return (rid, "centos8-librdkafka.so");
                yield return (rid, "librdkafka.so");
            }
            else
            {
                yield return (rid, "librdkafka.so");
            }
        }
        else
        {
            yield return ($"unknown-{arch}", "librdkafka.so");
        }
    }

    private static (IntPtr Handle, string Path) Load() => LoadFirst(Candidates());

    /// <summary>Loads the first file of <paramref name="candidates"/> that loads; otherwise throws naming each file and its failure.</summary>
    internal static (IntPtr Handle, string Path) LoadFirst(IEnumerable<string> candidates)
    {
        var why = new StringBuilder();
        foreach (var path in candidates)
        {
            if (!File.Exists(path))
            {
                why.Append("\n  ").Append(path).Append(": file not found");
                continue;
            }

            try
            {
                return (NativeLibrary.Load(path), path);
            }
            catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
            {
                why.Append("\n  ").Append(path).Append(": ").Append(ex.Message.ReplaceLineEndings(" "));
            }
        }

        throw new DllNotFoundException(
            $"Could not load librdkafka from the librdkafka.redist package for {RuntimeInformation.RuntimeIdentifier}. " +
            $"Reference the librdkafka.redist package (it must be copied to the output), or set {PathEnvironmentVariable} to a librdkafka 2.16 file. Tried:{why}");
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        return libraryName is "librdkafka" or "centos8-librdkafka" or "alpine-librdkafka" or "librdkafka.so.1"
            ? EnsureLoaded()
            : IntPtr.Zero;
    }
}
