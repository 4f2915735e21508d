using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Tollgate.Accounts;
using Tollgate.Dashboard;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Dashboard;

/// <summary>People of the dashboard tests: accounts with known passwords, signed in through the real pages.</summary>
internal static partial class DashboardUsers
{
    public const string Password = "correct horse battery staple";

    /// <summary>The first-run owner link the server printed (waits for the start to print it).</summary>
    public static async Task<string> FirstRunLinkAsync(TollgateFactory tollgate)
    {
        tollgate.StartServer();
        var link = tollgate.Service<FirstRunLink>();
        for (var i = 0; i < 200 && !InviteLink().IsMatch(link.Printed); i++)
        {
            await Task.Delay(25);
        }

        var match = InviteLink().Match(link.Printed);
        Assert.True(match.Success, $"no one-time link was printed:\n{link.Printed}");
        return match.Value;
    }

    /// <summary>An account made as the command line makes it, with <see cref="Password"/>.</summary>
    public static async Task<Account> CreateAsync(TollgateFactory tollgate, AccountRole role = AccountRole.Member, string? email = null)
    {
        tollgate.StartServer();
        var created = await tollgate.Service<AccountService>().CreateAsync(
            email ?? $"{role.ToString().ToLowerInvariant()}-{Guid.NewGuid():N}@example.com", null, role, Password, CancellationToken.None);
        return created.Account;
    }

    /// <summary>Signs in through the sign-in page and waits for the overview.</summary>
    public static async Task SignInAsync(IPage page, string email, string password = Password)
    {
        string? first = null;
        for (var attempt = 1; ; attempt++)
        {
            await page.GotoAsync("/signin");
            await page.GetByLabel("E-mail address").FillAsync(email);
            await page.GetByLabel("Password", new() { Exact = true }).FillAsync(password);
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
            try
            {
                // The first page after signing in may draw charts while the suite's CPU-heavy tests share both cores: wait on
                // the address, not on every resource of the page.
                await page.WaitForURLAsync(url => !url.Contains("/signin", StringComparison.Ordinal),
                    new() { Timeout = 30_000, WaitUntil = WaitUntilState.DOMContentLoaded });
                return;
            }
            catch (TimeoutException timeout)
            {
                // Once more from the start (a submit lost on a machine under load); then say what the page showed both times.
                var shown = $"{page.Url}: {await page.Locator("main, body").First.InnerTextAsync()}";
                if (attempt == 2)
                {
                    throw new TimeoutException($"Signing in as {email} stayed on the sign-in page. First: {first} Then: {shown}", timeout);
                }

                first = shown;
            }
        }
    }

    /// <summary>An HTTP client that keeps cookies and does not follow redirects, as a script against the pages would.</summary>
    public static HttpClient CookieClient(TollgateFactory tollgate, CookieContainer? cookies = null) =>
        new(new HttpClientHandler { CookieContainer = cookies ?? new CookieContainer(), AllowAutoRedirect = false, UseCookies = true })
        {
            BaseAddress = tollgate.Address,
        };

    /// <summary>The anti-forgery token of the first form on the page at <paramref name="path"/>.</summary>
    public static async Task<string> FormTokenAsync(HttpClient client, string path)
    {
        var html = await client.GetStringAsync(path, TestContext.Current.CancellationToken);
        var match = TokenField().Match(html);
        Assert.True(match.Success, $"no anti-forgery field on {path}");
        return WebUtility.HtmlDecode(match.Groups[1].Value);
    }

    /// <summary>Signs in over plain HTTP; returns the client with its session cookie.</summary>
    public static async Task<HttpClient> SignedInClientAsync(TollgateFactory tollgate, string email, string password = Password)
    {
        var client = CookieClient(tollgate);
        var token = await FormTokenAsync(client, "/signin");
        using var response = await client.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__csrf"] = token, ["email"] = email, ["password"] = password,
        }), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return client;
    }

    [GeneratedRegex(@"https?://[^\s]+/signup\?invite=[A-Za-z0-9_\-]+")]
    private static partial Regex InviteLink();

    [GeneratedRegex("name=\"__csrf\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();
}
