using System.Net;
using Microsoft.AspNetCore.Routing;
using Tollgate.Accounts;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// A rotated-out secret still inside its grace period (S1) against its owner, who holds the new
/// secret (S2): it keeps a client running (inference and reads) and can do nothing else.
/// </summary>
public sealed class GracePeriodSecretAttacks(TollgateFactory factory) : IClassFixture<TollgateFactory>
{
    /// <summary>The endpoints a grace-period secret may still call with a method other than GET.</summary>
    private static readonly string[] InferencePaths =
        ["/api/v1/chat/completions", "/api/v1/embeddings", "/api/v1/messages", "/api/v1/messages/count_tokens"];

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>Rotates the key with S1 and a grace period; returns S2.</summary>
    private static async Task<string> RotateWithGraceAsync(HttpClient s1, string keyId)
    {
        using var rotate = await s1.PostAsync($"/api/v1/api-keys/{keyId}/rotate", Json.Body("""{"grace_seconds":600}"""), Cancel);
        Assert.Equal(HttpStatusCode.OK, rotate.StatusCode);
        return (await rotate.ReadAsync()).GetProperty("key").GetString()!;
    }

    private static async Task AssertPreviousSecretRefusedAsync(HttpResponseMessage response, string what)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{what}: {(int)response.StatusCode} {body}");
        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("previous_secret", error.GetProperty("metadata").GetProperty("reason").GetString());
    }

    // Issue 9, item 11: the reproduction. S1 rotated again, got S3 and locked the owner (S2) out.
    [Fact]
    public async Task GraceSecret_RotatesAgain_Answers403AndTheOwnersNewSecretKeepsWorking()
    {
        var account = await factory.CreateAccountAsync();
        var (key, s1Secret) = await factory.CreateKeyAsync(account.Id);
        using var s1 = factory.Client(s1Secret);
        var s2Secret = await RotateWithGraceAsync(s1, key.Id);

        using var again = await s1.PostAsync($"/api/v1/api-keys/{key.Id}/rotate", null, Cancel);
        using var disable = await s1.PatchAsync($"/api/v1/api-keys/{key.Id}", Json.Body("""{"disabled":true}"""), Cancel);

        await AssertPreviousSecretRefusedAsync(again, "rotate");
        await AssertPreviousSecretRefusedAsync(disable, "disable");
        using var s2 = factory.Client(s2Secret);
        using var owner = await s2.GetAsync("/api/v1/key", Cancel);
        using var stillReads = await s1.GetAsync("/api/v1/key", Cancel);
        Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
        Assert.Equal(HttpStatusCode.OK, stillReads.StatusCode);
    }

    // Issue 9, item 11: a grace-period secret calling every endpoint.
    [Fact]
    public async Task GraceSecret_CallingEveryEndpoint_OnlyInferenceAndReadsAreServed()
    {
        var owner = (await factory.Service<AccountService>().CreateAsync($"owner-{Guid.NewGuid():N}@example.com", null, AccountRole.Owner, null,
            CancellationToken.None)).Account;
        var (key, s1Secret) = await factory.CreateKeyAsync(owner.Id, """{"name":"all","scopes":["inference","keys:read","keys:write","usage:read","admin"]}""");
        var (other, otherSecret) = await factory.CreateKeyAsync(owner.Id, """{"name":"other"}""");
        using var s1 = factory.Client(s1Secret);
        var s2Secret = await RotateWithGraceAsync(s1, key.Id);

        // Every change the API offers, on the key itself and on another key of the account.
        (HttpMethod Method, string Path, string? Body)[] changes =
        [
            (HttpMethod.Post, "/api/v1/api-keys", """{"name":"escape hatch"}"""),
            (HttpMethod.Patch, $"/api/v1/api-keys/{key.Id}", """{"name":"mine"}"""),
            (HttpMethod.Patch, $"/api/v1/api-keys/{key.Id}", """{"disabled":true}"""),
            (HttpMethod.Patch, $"/api/v1/api-keys/{other.Id}", """{"disabled":true}"""),
            (HttpMethod.Post, $"/api/v1/api-keys/{key.Id}/rotate", """{"grace_seconds":600}"""),
            (HttpMethod.Post, $"/api/v1/api-keys/{other.Id}/rotate", null),
            (HttpMethod.Delete, $"/api/v1/api-keys/{other.Id}", null),
            (HttpMethod.Delete, $"/api/v1/api-keys/{key.Id}", null),
            (HttpMethod.Post, "/api/v1/admin/credits", $$"""{"account_id":"{{owner.Id}}","amount":1000000}"""),
        ];

        // And every other non-GET route the server has, so an endpoint added later is covered too.
        var routes = factory.Service<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/v1/", StringComparison.Ordinal) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? []).Select(m =>
                (Method: new HttpMethod(m), Path: e.RoutePattern.RawText!.Replace("{id}", other.Id, StringComparison.Ordinal), Body: (string?)"{}")))
            .Where(r => r.Method != HttpMethod.Get && r.Method != HttpMethod.Head && !InferencePaths.Contains(r.Path))
            .ToArray();
        Assert.True(routes.Length >= 5, string.Join(", ", routes.Select(r => $"{r.Method} {r.Path}")));

        foreach (var (method, path, body) in changes.Concat(routes))
        {
            using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : Json.Body(body) };
            using var response = await s1.SendAsync(request, Cancel);
            await AssertPreviousSecretRefusedAsync(response, $"{method} {path}");
        }

        // Inference and reads still work with S1, while the grace period lasts.
        using var chat = await s1.PostAsync("/api/v1/chat/completions",
            Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"still here"}]}"""), Cancel);
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        var generation = (await chat.ReadAsync()).GetProperty("id").GetString();
        foreach (var path in new[] { "/api/v1/api-keys", $"/api/v1/api-keys/{key.Id}", "/api/v1/key", "/api/v1/credits", "/api/v1/usage", $"/api/v1/generation?id={generation}", "/api/v1/models" })
        {
            using var read = await s1.GetAsync(path, Cancel);
            Assert.True(read.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)read.StatusCode}");
        }

        // Nothing changed: the owner's new secret and the other key work, and no credits were minted.
        using var s2 = factory.Client(s2Secret);
        using var otherClient = factory.Client(otherSecret);
        using var s2Works = await s2.GetAsync($"/api/v1/api-keys/{key.Id}", Cancel);
        using var otherWorks = await otherClient.GetAsync("/api/v1/key", Cancel);
        Assert.Equal(HttpStatusCode.OK, s2Works.StatusCode);
        Assert.Equal("all", (await s2Works.ReadAsync()).GetProperty("data").GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.OK, otherWorks.StatusCode);
        var balance = await LedgerAudit.AssertBooksBalanceAsync(factory, owner.Id);
        Assert.True(balance < 1_000_000_000L, "only the chat was charged, nothing was granted");
    }

    // Issue 9, item 11 (50 at once)
    [Fact]
    public async Task GraceSecret_FiftyConcurrentRotations_AllAnswer403AndTheNewSecretWorks()
    {
        var account = await factory.CreateAccountAsync();
        var (key, s1Secret) = await factory.CreateKeyAsync(account.Id);
        using var s1 = factory.Client(s1Secret);
        var s2Secret = await RotateWithGraceAsync(s1, key.Id);

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ =>
            s1.PostAsync($"/api/v1/api-keys/{key.Id}/rotate", Json.Body("""{"grace_seconds":600}"""), Cancel)));

        foreach (var response in responses)
        {
            await AssertPreviousSecretRefusedAsync(response, "rotate");
            response.Dispose();
        }

        using var s2 = factory.Client(s2Secret);
        using var works = await s2.GetAsync("/api/v1/key", Cancel);
        Assert.Equal(HttpStatusCode.OK, works.StatusCode);
    }
}
