using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Http;

public sealed class ErrorEnvelopeTests(ErrorEnvelopeTests.ThrowingFactory factory) : IClassFixture<ErrorEnvelopeTests.ThrowingFactory>
{
    /// <summary>Tollgate plus a route that fails the way a bug would.</summary>
    public sealed class ThrowingFactory : TollgateFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureServices(services => services.AddSingleton<IStartupFilter, ThrowingRoute>());
        }
    }

    private sealed class ThrowingRoute : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            next(app);
            app.Use((HttpContext context, RequestDelegate rest) => context.Request.Path == "/test/bug"
                ? throw new InvalidOperationException("secret internal detail")
                : rest(context));
        };
    }

    [Fact]
    public async Task UnknownRoute_Gets404Envelope()
    {
        using var client = factory.Client();

        using var response = await client.GetAsync("/api/v1/does-not-exist", TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.NotFound);
        Assert.Contains("/api/v1/does-not-exist", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongMethod_Gets405EnvelopeWithAllowHeader()
    {
        using var client = factory.Client();

        using var response = await client.PutAsync("/api/v1/api-keys", Json.Body("{}"), TestContext.Current.CancellationToken);

        await response.AssertErrorAsync(HttpStatusCode.MethodNotAllowed);
        Assert.Equal(["GET", "POST"], response.Content.Headers.Allow.Order());
    }

    [Fact]
    public async Task Bug_Gets500EnvelopeWithoutDetailsOrStackTrace()
    {
        using var client = factory.Client();

        using var response = await client.GetAsync("/test/bug", TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.InternalServerError);
        Assert.Equal("Internal server error", error.GetProperty("message").GetString());
        Assert.DoesNotContain("secret internal detail", body, StringComparison.Ordinal);
        Assert.DoesNotContain("InvalidOperationException", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TenMegabyteBody_Gets413Envelope()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id);
        using var client = factory.Client(secret);
        var payload = "{\"name\":\"" + new string('a', 10 * 1024 * 1024) + "\"}";

        using var response = await client.PostAsync("/api/v1/api-keys", Json.Body(payload), TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("8388608 bytes", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OversizedBodyWithExpectContinue_Gets413WithoutTheBodyBeingSent()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id);
        // A plain client: the factory's own handlers buffer request bodies to replay redirects.
        using var client = new HttpClient { BaseAddress = factory.Address };
        client.DefaultRequestHeaders.Authorization = new("Bearer", secret);
        var sent = new CountingStream(10 * 1024 * 1024);
        using var content = new StreamContent(sent);
        content.Headers.ContentType = new("application/json");
        content.Headers.ContentLength = sent.Length;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/api-keys") { Content = content };
        request.Headers.ExpectContinue = true;

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        await response.AssertErrorAsync(HttpStatusCode.RequestEntityTooLarge);
        Assert.True(sent.Position < 1024 * 1024, $"{sent.Position} bytes were sent");
    }

    /// <summary>A stream of spaces that remembers how far it was read.</summary>
    private sealed class CountingStream(long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;

        public override long Position
        {
            get => Interlocked.Read(ref _position);
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - Position);
            buffer.AsSpan(offset, n).Fill((byte)' ');
            Interlocked.Add(ref _position, n);
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task TenMegabyteChunkedBody_Gets413Envelope()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id);
        using var client = factory.Client(secret);
        var payload = "{\"name\":\"" + new string('a', 10 * 1024 * 1024) + "\"}";
        using var content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(payload)));
        content.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/api-keys") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        await response.AssertErrorAsync(HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task EveryResponse_CarriesARequestIdThatErrorsRepeat()
    {
        using var client = factory.Client();

        using var ok = await client.GetAsync("/healthz", TestContext.Current.CancellationToken);
        using var notFound = await client.GetAsync("/nope", TestContext.Current.CancellationToken);

        Assert.StartsWith("req_", ok.Headers.GetValues("x-request-id").Single(), StringComparison.Ordinal);
        var id = notFound.Headers.GetValues("x-request-id").Single();
        var error = await notFound.AssertErrorAsync(HttpStatusCode.NotFound);
        Assert.Equal(id, error.GetProperty("metadata").GetProperty("request_id").GetString());
    }

    [Theory]
    [InlineData("client-trace-42", true)]
    [InlineData("abc.DEF:123_x-y", true)]
    [InlineData("has space", false)]
    [InlineData("<script>", false)]
    public async Task ClientRequestId_IsEchoedOnlyWhenSane(string sent, bool echoed)
    {
        using var client = factory.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/healthz");
        request.Headers.TryAddWithoutValidation("X-Request-Id", sent);

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        var id = response.Headers.GetValues("x-request-id").Single();
        Assert.Equal(echoed, id == sent);
    }

    [Fact]
    public async Task OverlongClientRequestId_IsReplaced()
    {
        using var client = factory.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/healthz");
        request.Headers.Add("X-Request-Id", new string('a', 129));

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.StartsWith("req_", response.Headers.GetValues("x-request-id").Single(), StringComparison.Ordinal);
    }
}
