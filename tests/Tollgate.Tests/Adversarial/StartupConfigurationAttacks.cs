using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// The real server process started with settings of the wrong type, beside another server on its
/// database, or on a port that is taken: it says so in a plain line or two naming the setting or the
/// problem, exits with a code a script can test, and prints no stack trace.
/// </summary>
public sealed class StartupConfigurationAttacks : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tollgate-start-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    // Issue 9, item 18
    [Theory]
    [InlineData("Tollgate__ApiKeys__CacheTtl", "banana", "Tollgate:ApiKeys:CacheTtl must be a time span")]
    [InlineData("Tollgate__Credits__MaxBatch", "abc", "Tollgate:Credits:MaxBatch must be a whole number")]
    [InlineData("Tollgate__Limits__MaxRequestBodyBytes", "1e99", "Tollgate:Limits:MaxRequestBodyBytes must be a whole number")]
    [InlineData("Tollgate__Demo__Enabled", "maybe", "Tollgate:Demo:Enabled must be true or false")]
    [InlineData("Tollgate__Credits__InitialCredits", "lots", "Tollgate:Credits:InitialCredits must be a number")]
    [InlineData("Logging__LogLevel__Default", "banana", "Logging:LogLevel settings must be")]
    [InlineData("Tollgate__ApiKeys__MaxKeysPerAccount", "0", "Tollgate:ApiKeys:MaxKeysPerAccount must be at least 1")]
    public async Task Start_SettingOfTheWrongTypeOrRange_ExitsWith2AndOneLineNamingIt(string variable, string value, string expected)
    {
        var (exitCode, stdout, stderr) = await RunAsync(new Dictionary<string, string> { [variable] = value });

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{stderr}\n{stdout}");
        Assert.Single(Lines(stderr), line => line.Contains(expected, StringComparison.Ordinal));
        Assert.True(Lines(stderr).Length <= 2, stderr);
        AssertNoStackTrace(stdout, stderr);
    }

    // Issue 9, item 18
    [Fact]
    public async Task Start_UrlsThatAreNotAnAddress_ExitsWith2NamingIt()
    {
        var (exitCode, stdout, stderr) = await RunAsync(new Dictionary<string, string>(), "--urls", "banana");

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{stderr}\n{stdout}");
        Assert.Single(Lines(stderr), line => line.Contains("Urls must be addresses such as http://localhost:5000", StringComparison.Ordinal));
        AssertNoStackTrace(stdout, stderr);
    }

    // Issue 9, item 18
    [Fact]
    public async Task Start_WrongTypeInsideAModelOrAProvider_IsReportedInsteadOfDroppingIt()
    {
        // The configuration binder skips a list or dictionary element it cannot bind: the model and the provider would vanish.
        var (exitCode, stdout, stderr) = await RunAsync(new Dictionary<string, string>
        {
            ["Tollgate__Providers__local__Type"] = "openai",
            ["Tollgate__Providers__local__BaseUrl"] = "http://127.0.0.1:9/v1",
            ["Tollgate__Providers__local__ConnectTimeout"] = "soon",
            ["Tollgate__Models__0__Id"] = "local/llama",
            ["Tollgate__Models__0__Pricing__Prompt"] = "cheap",
            ["Tollgate__Models__0__Deployments__0__Provider"] = "local",
            ["Tollgate__Models__0__Deployments__0__Model"] = "llama3",
        });

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{stderr}\n{stdout}");
        Assert.Single(Lines(stderr), line => line.Contains("Tollgate:Providers:local:ConnectTimeout must be a time span", StringComparison.Ordinal));
        Assert.Single(Lines(stderr), line => line.Contains("Tollgate:Models:0:Pricing:Prompt must be a number, not 'cheap'", StringComparison.Ordinal));
        AssertNoStackTrace(stdout, stderr);
    }

    // Issue 9, item 18
    [Fact]
    public async Task Start_SecondServerOnTheSameDatabase_SaysSoWithoutAStackTrace()
    {
        var (first, _) = await TollgateProcess.StartServerAsync(_folder);
        await using var _ = first;

        var (exitCode, stdout, stderr) = await RunAsync(new Dictionary<string, string>(), "--urls", "http://127.0.0.1:0");

        Assert.True(exitCode == 1, $"exit code {exitCode}\n{stderr}\n{stdout}");
        Assert.Single(Lines(stderr), line => line.Contains("Another Tollgate server is running on the same database", StringComparison.Ordinal));
        AssertNoStackTrace(stdout, stderr);
    }

    // Issue 9, item 18
    [Fact]
    public async Task Start_PortAlreadyInUse_SaysSoWithoutAStackTrace()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var (exitCode, stdout, stderr) = await RunAsync(new Dictionary<string, string>(), "--urls", $"http://127.0.0.1:{port}");

        Assert.True(exitCode == 1, $"exit code {exitCode}\n{stderr}\n{stdout}");
        Assert.Single(Lines(stderr), line => line.Contains("address already in use", StringComparison.OrdinalIgnoreCase));
        AssertNoStackTrace(stdout, stderr);
    }

    private static void AssertNoStackTrace(string stdout, string stderr)
    {
        Assert.DoesNotContain("   at ", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", stdout + stderr, StringComparison.Ordinal);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Starts the server and waits for it to give up; one that starts anyway is stopped and fails the test.</summary>
    private async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(Dictionary<string, string> environment, params string[] args)
    {
        using var process = Process.Start(TollgateProcess.StartInfo(_folder, args.Length > 0 ? args : ["--urls", "http://127.0.0.1:0"], environment))!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.Fail("Tollgate started anyway:\n" + await stdout);
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
