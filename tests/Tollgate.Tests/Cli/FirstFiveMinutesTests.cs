using System.Net;
using System.Net.Http.Headers;
using Tollgate.ApiKeys;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Cli;

/// <summary>The README's path for a newcomer, with the real executable: start, create an account and a key, call.</summary>
public sealed class FirstFiveMinutesTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tollgate-cli-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Newcomer_StartsCreatesAccountAndKey_AndTheKeyWorks()
    {
        var (server, address) = await TollgateProcess.StartServerAsync(_folder);
        await using var _ = server;

        // First start on an empty database says what to do next, and creates ./data.
        await WaitForAsync(() => server.Output.Contains("There are no accounts yet", StringComparison.Ordinal));
        Assert.Contains("accounts create --email", server.Output, StringComparison.Ordinal);
        Assert.Matches(@"http://127\.0\.0\.1:\d+/signup\?invite=[A-Za-z0-9_\-]{43}", server.Output);
        Assert.True(File.Exists(Path.Combine(_folder, "data", "tollgate.db")));

        var account = await TollgateProcess.RunAsync(_folder, "accounts", "create", "--email", "me@example.com");
        Assert.True(account.ExitCode == 0, account.StdErr);
        Assert.Contains("Created owner account", account.StdOut, StringComparison.Ordinal);
        Assert.Matches("One-time password \\(shown only now\\): [A-Za-z0-9]{20}", account.StdOut);

        var key = await TollgateProcess.RunAsync(_folder, "keys", "create", "--email", "me@example.com", "--name", "first key");
        Assert.True(key.ExitCode == 0, key.StdErr);
        var secret = key.StdOut.TrimEnd().Split('\n')[^1];
        Assert.True(ApiKeySecret.IsWellFormed(secret), $"last line is not a key: {secret}");

        using var client = new HttpClient { BaseAddress = address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        using var response = await client.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"name\":\"first key\"", body, StringComparison.Ordinal);
        Assert.Contains(ApiKeySecret.Label(secret), body, StringComparison.Ordinal);

        var accounts = await TollgateProcess.RunAsync(_folder, "accounts", "list");
        Assert.Contains("me@example.com", accounts.StdOut, StringComparison.Ordinal);
        var keys = await TollgateProcess.RunAsync(_folder, "keys", "list", "--email", "me@example.com");
        Assert.Contains(ApiKeySecret.Label(secret), keys.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, keys.StdOut, StringComparison.Ordinal);

        // The server never printed the secret.
        Assert.DoesNotContain(secret[9..52], server.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("accounts create --email not-an-address", "is not an e-mail address")]
    [InlineData("accounts create --email a@example.com --password short", "at least 12 characters")]
    [InlineData("accounts create --email a@example.com --role king", "--role must be owner, admin or member")]
    [InlineData("keys create --email nobody@example.com --name x", "No account has the e-mail address")]
    [InlineData("accounts frobnicate", "frobnicate")]
    public async Task Command_WithBadInput_ExitsNonZeroNamingTheProblem(string command, string expected)
    {
        var result = await TollgateProcess.RunAsync(_folder, command.Split(' '));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(expected, result.StdErr + result.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AccountsCreate_SameEmailTwice_RefusesTheSecond()
    {
        var first = await TollgateProcess.RunAsync(_folder, "accounts", "create", "--email", "Twice@Example.com", "--password", "correct horse battery");
        var second = await TollgateProcess.RunAsync(_folder, "accounts", "create", "--email", "twice@example.com");

        Assert.Equal(0, first.ExitCode);
        Assert.DoesNotContain("One-time password", first.StdOut, StringComparison.Ordinal);
        Assert.Equal(1, second.ExitCode);
        Assert.Contains("already exists", second.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeysCreate_WithScopesAndModels_AppliesThem()
    {
        await TollgateProcess.RunAsync(_folder, "accounts", "create", "--email", "s@example.com");

        var result = await TollgateProcess.RunAsync(_folder, "keys", "create", "--email", "s@example.com", "--name", "ro",
            "--scopes", "keys:read,usage:read", "--models", "openai/*");
        var bad = await TollgateProcess.RunAsync(_folder, "keys", "create", "--email", "s@example.com", "--name", "x", "--scopes", "root");

        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Contains("scopes: keys:read usage:read", result.StdOut, StringComparison.Ordinal);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("unknown scope 'root'", bad.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_ListsTheCommands()
    {
        var result = await TollgateProcess.RunAsync(_folder, "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("serve", result.StdOut, StringComparison.Ordinal);
        Assert.Contains("accounts", result.StdOut, StringComparison.Ordinal);
        Assert.Contains("keys", result.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_WithBadConfiguration_FailsAtStartNamingTheSetting()
    {
        using var process = System.Diagnostics.Process.Start(TollgateProcess.StartInfo(_folder, ["serve", "--urls", "http://127.0.0.1:0"],
            new Dictionary<string, string> { ["Tollgate__Limits__MaxRequestBodyBytes"] = "5", ["Tollgate__ApiKeys__MaxKeysPerAccount"] = "0" }))!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        var text = await output + await error;

        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains("Tollgate:Limits:MaxRequestBodyBytes", text, StringComparison.Ordinal);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(50);
        }

        Assert.True(condition());
    }
}
