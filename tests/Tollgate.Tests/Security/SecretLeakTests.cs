using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Tollgate.ApiKeys;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Security;

/// <summary>
/// Drives every key endpoint, success and error paths alike, with canary keys while every
/// logger runs at Trace, then searches each log line and the database files for the secrets.
/// </summary>
public sealed class SecretLeakTests
{
    [Fact]
    public async Task CanaryKeys_AfterFullTraffic_AppearInNoLogLineAndNoDatabaseFile()
    {
        using var factory = new TollgateFactory { DeleteFilesOnDispose = false };
        try
        {
            await RunTrafficAndSearchAsync(factory);
        }
        finally
        {
            Directory.Delete(factory.Directory, recursive: true);
        }
    }

    private static async Task RunTrafficAndSearchAsync(TollgateFactory factory)
    {
        var account = await factory.CreateAccountAsync("canary@example.com");
        var (_, rootSecret) = await factory.CreateKeyAsync(account.Id, """{"name":"root"}""");
        var secrets = new List<string> { rootSecret };
        using var root = factory.Client(rootSecret);
        var ct = TestContext.Current.CancellationToken;

        // Create the canary through the API, so its secret crosses the wire once.
        using var created = await root.PostAsync("/api/v1/api-keys", Json.Body("""{"name":"canary"}"""), ct);
        var body = await created.ReadAsync();
        var canary = body.GetProperty("key").GetString()!;
        var canaryId = body.GetProperty("data").GetProperty("id").GetString()!;
        secrets.Add(canary);
        using var client = factory.Client(canary);

        // Success paths.
        (await client.GetAsync("/api/v1/api-keys", ct)).Dispose();
        (await client.GetAsync($"/api/v1/api-keys/{canaryId}", ct)).Dispose();
        (await client.PatchAsync($"/api/v1/api-keys/{canaryId}", Json.Body("""{"name":"canary2"}"""), ct)).Dispose();
        (await client.PostAsync("/api/v1/api-keys", Json.Body("""{"name":"child"}"""), ct)).Dispose();

        // The chat path, streamed and not, then refused for a model the key may not use.
        (await client.PostAsync("/api/v1/chat/completions", Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"hi"}]}"""), ct)).Dispose();
        (await client.PostAsync("/api/v1/chat/completions", Json.Body("""{"model":"demo/echo","stream":true,"messages":[{"role":"user","content":"hi"}]}"""), ct)).Dispose();
        (await client.PostAsync("/api/v1/chat/completions", Json.Body("""{"model":"nope/none","messages":[{"role":"user","content":"hi"}]}"""), ct)).Dispose();
        (await client.GetAsync("/api/v1/key", ct)).Dispose();

        // Error paths: bad JSON, wrong types, unknown routes and methods, oversize, 403, 404.
        (await client.PostAsync("/api/v1/api-keys", Json.Body("{\"name\":"), ct)).Dispose();
        (await client.PostAsync("/api/v1/api-keys", Json.Body("{\"name\":5}"), ct)).Dispose();
        (await client.GetAsync("/api/v1/nope", ct)).Dispose();
        (await client.PutAsync("/api/v1/api-keys", Json.Body("{}"), ct)).Dispose();
        (await client.PostAsync("/api/v1/api-keys", Json.Body(new string(' ', 9 * 1024 * 1024)), ct)).Dispose();
        (await client.GetAsync("/api/v1/api-keys/key_missing", ct)).Dispose();
        (await client.PostAsync("/api/v1/api-keys", Json.Body("""{"name":"x","scopes":["bogus"]}"""), ct)).Dispose();

        // The canary in a query string, where a careless client might put it (ASP.NET Core's own
        // request lines would print it; Tollgate switches them off).
        (await client.GetAsync($"/api/v1/api-keys?key={canary}", ct)).Dispose();


        // The Messages API, with the key as x-api-key (good, and one character off), and an embeddings call.
        foreach (var sent in new[] { canary, canary[..^1] + (canary[^1] == 'x' ? 'y' : 'x') })
        {
            using var anthropic = factory.Client();
            using var message = new HttpRequestMessage(HttpMethod.Post, "/api/v1/messages")
            {
                Content = Json.Body("""{"model":"demo/echo","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}"""),
            };
            message.Headers.TryAddWithoutValidation("x-api-key", sent);
            (await anthropic.SendAsync(message, ct)).Dispose();
        }

        (await client.PostAsync("/api/v1/embeddings", Json.Body("""{"model":"demo/embed","input":"hi"}"""), ct)).Dispose();

        // Broken variants of the canary, each a different refusal.
        foreach (var variant in new[] { canary[..^1] + (canary[^1] == 'x' ? 'y' : 'x'), canary + "x", canary.ToUpperInvariant(), "Basic " + canary })
        {
            using var bad = factory.Client();
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/api-keys");
            request.Headers.TryAddWithoutValidation("Authorization", variant.StartsWith("Basic", StringComparison.Ordinal) ? variant : "Bearer " + variant);
            (await bad.SendAsync(request, ct)).Dispose();
        }

        // Rotate (with grace, so both secrets live for a while), then delete and try again.
        using var rotated = await client.PostAsync($"/api/v1/api-keys/{canaryId}/rotate", Json.Body("""{"grace_seconds":30}"""), ct);
        var rotatedSecret = (await rotated.ReadAsync()).GetProperty("key").GetString()!;
        secrets.Add(rotatedSecret);
        using var rotatedClient = factory.Client(rotatedSecret);
        (await rotatedClient.GetAsync("/api/v1/api-keys", ct)).Dispose();
        (await root.DeleteAsync($"/api/v1/api-keys/{canaryId}", ct)).Dispose();
        using (var afterDelete = await rotatedClient.GetAsync("/api/v1/api-keys", ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, afterDelete.StatusCode);
        }

        await factory.Service<LastUsedRecorder>().FlushAsync(ct);
        await factory.DisposeAsync(); // stops the host: final flushes, connections closed

        Assert.True(factory.Logs.Count > 100, $"expected Trace-level logging, got {factory.Logs.Count} lines");
        foreach (var secret in secrets)
        {
            var body43 = secret[9..52];
            var leaks = factory.Logs.Where(l => l.Contains(body43, StringComparison.Ordinal)).ToArray();
            Assert.True(leaks.Length == 0, "leaked in: " + string.Join("\n", leaks.Select(l => l[..Math.Min(300, l.Length)])));

            foreach (var file in Directory.GetFiles(Path.GetDirectoryName(factory.DatabasePath)!))
            {
                var bytes = await File.ReadAllBytesAsync(file, ct);
                Assert.True(IndexOf(bytes, Encoding.ASCII.GetBytes(body43)) < 0, $"{Path.GetFileName(file)} contains a secret");
            }
        }

        // The hashes are there: the search above would have found the secrets had they been stored.
        var database = await File.ReadAllBytesAsync(factory.DatabasePath, ct);
        var wal = File.Exists(factory.DatabasePath + "-wal") ? await File.ReadAllBytesAsync(factory.DatabasePath + "-wal", ct) : [];
        var hash = Encoding.ASCII.GetBytes(ApiKeySecret.Hash(rootSecret));
        Assert.True(IndexOf(database, hash) >= 0 || IndexOf(wal, hash) >= 0);
    }

    private static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);
}
