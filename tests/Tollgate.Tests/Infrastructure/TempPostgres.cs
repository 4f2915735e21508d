using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Tollgate.Tests.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL server from the Debian package (initdb in a temporary folder, a free port on
/// 127.0.0.1), started once per test process and stopped when it exits. Each test gets a database of its own
/// (<see cref="CreateDatabaseAsync"/>). No Docker.
/// </summary>
internal static class TempPostgres
{
    private const string Bin = "/usr/lib/postgresql/15/bin";
    private static readonly Lazy<Task<Server>> Shared = new(StartAsync);

    internal sealed record Server(string Folder, int Port)
    {
        public string ConnectionString(string database) =>
            $"Host=127.0.0.1;Port={Port};Username=tollgate;Database={database};Pooling=true;Timeout=30;Command Timeout=60";
    }

    /// <summary>True when the PostgreSQL binaries are installed (the test command installs them).</summary>
    public static bool Available => File.Exists(Path.Combine(Bin, "initdb"));

    /// <summary>A new, empty database on the shared server: its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync()
    {
        var server = await Shared.Value;
        var name = "t_" + Guid.NewGuid().ToString("N")[..16];
        await using var connection = new NpgsqlConnection(server.ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return server.ConnectionString(name);
    }

    /// <summary>The server's port (for tests that stop and start it, or point several instances at it).</summary>
    public static async Task<Server> ServerAsync() => await Shared.Value;

    private static async Task<Server> StartAsync()
    {
        if (!Available)
        {
            throw new InvalidOperationException($"PostgreSQL is not installed ({Bin}/initdb is missing): run ./test.sh, which installs it.");
        }

        var folder = Directory.CreateTempSubdirectory("tollgate-pg-").FullName;
        var port = FreePort();
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            // initdb refuses to run as root: the server runs as the postgres user, in a folder it owns.
            await RunAsync("chown", $"postgres {folder}");
        }

        await RunAsync(asRoot, "initdb", $"-D {folder}/data -A trust -U tollgate --no-sync -E UTF8 --locale=C.UTF-8");
        await RunAsync(asRoot, "pg_ctl",
            $"-D {folder}/data -l {folder}/log -w -t 60 -o \"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off " +
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=400 -c shared_buffers=128MB\" start");
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                RunAsync(asRoot, "pg_ctl", $"-D {folder}/data stop -m immediate").GetAwaiter().GetResult();
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception)
            {
                // Best effort at exit.
            }
        };
        return new Server(folder, port);
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static Task RunAsync(bool asPostgres, string tool, string arguments) =>
        asPostgres ? RunAsync("runuser", $"-u postgres -- {Bin}/{tool} {arguments}") : RunAsync($"{Bin}/{tool}", arguments);

    private static async Task RunAsync(string file, string arguments)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} failed ({process.ExitCode}): {await output}{await error}");
        }
    }
}
