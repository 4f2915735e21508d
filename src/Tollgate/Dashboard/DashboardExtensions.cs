using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.Options;
using Tollgate.Configuration;
using Tollgate.Storage;

namespace Tollgate.Dashboard;

internal static class DashboardExtensions
{
    /// <summary>
    /// Registers the dashboard: Razor Pages under <c>Dashboard/</c>, a cookie session that never authenticates
    /// <c>/api/v1/**</c> (and an API key never authenticates a page), anti-forgery on every form, data-protection
    /// keys kept beside the database, and OpenID Connect sign-in when configured.
    /// </summary>
    public static WebApplicationBuilder AddDashboard(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<DashboardOptions>()
            .BindConfiguration(DashboardOptions.Section)
            .ValidateSettings(o => o.Validate());

        builder.Services.AddRazorPages(pages =>
        {
            pages.RootDirectory = "/Dashboard";
            pages.Conventions.AuthorizeFolder("/", DashboardSession.Policy);
            pages.Conventions.AuthorizeFolder("/Admin", DashboardSession.AdminPolicy);
            foreach (var open in (string[])["/SignIn", "/SignUp", "/Forbidden"])
            {
                pages.Conventions.AllowAnonymousToPage(open);
            }
        });

        builder.Services.AddAuthentication()
            .AddCookie(DashboardSession.Scheme, cookie =>
            {
                cookie.Cookie.Name = "tollgate_session";
                cookie.Cookie.HttpOnly = true;
                cookie.Cookie.SameSite = SameSiteMode.Lax;
                cookie.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                cookie.Cookie.Path = "/";
                cookie.SlidingExpiration = true;
                cookie.LoginPath = "/signin";
                cookie.LogoutPath = "/signout";
                cookie.AccessDeniedPath = "/forbidden";
                cookie.ReturnUrlParameter = "returnUrl";
                cookie.Events.OnValidatePrincipal = DashboardSession.ValidateAsync;
            });
        builder.Services.AddOptions<CookieAuthenticationOptions>(DashboardSession.Scheme)
            .Configure<IOptions<DashboardOptions>>((cookie, dashboard) => cookie.ExpireTimeSpan = dashboard.Value.SessionLifetime);
        builder.AddOidcSignIn();

        builder.Services.AddAuthorization(options =>
        {
            options.AddPolicy(DashboardSession.Policy, policy => policy
                .AddAuthenticationSchemes(DashboardSession.Scheme)
                .RequireAuthenticatedUser());
            options.AddPolicy(DashboardSession.AdminPolicy, policy => policy
                .AddAuthenticationSchemes(DashboardSession.Scheme)
                .RequireAuthenticatedUser()
                .RequireRole("owner", "admin"));
        });

        builder.Services.AddAntiforgery(antiforgery =>
        {
            antiforgery.Cookie.Name = "tollgate_antiforgery";
            antiforgery.Cookie.SameSite = SameSiteMode.Strict;
            antiforgery.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            antiforgery.FormFieldName = "__csrf";
            antiforgery.HeaderName = "X-CSRF-Token";
        });

        // The keys that encrypt session cookies live beside the database (./data/keys), so sessions survive a restart.
        builder.Services.AddDataProtection().SetApplicationName("Tollgate");
        if (StorageOptions.UsesPostgres(builder.Configuration))
        {
            // Several instances: one key ring for all of them, in PostgreSQL.
            builder.Services.AddOptions<KeyManagementOptions>()
                .Configure<PostgresDatabase>((keys, database) => keys.XmlRepository = new PostgresXmlRepository(database));
        }
        else
        {
            builder.Services.AddOptions<KeyManagementOptions>()
                .Configure<SqliteDatabase, ILoggerFactory>((keys, database, loggers) =>
                    keys.XmlRepository = new FileSystemXmlRepository(
                        new DirectoryInfo(Path.Combine(Path.GetDirectoryName(database.FilePath)!, "keys")), loggers));
        }

        builder.Services.AddSingleton<FirstRunLink>();
        builder.Services.AddSingleton<Settings.Keys.KeyCheckLimiter>();
        builder.Services.AddMemoryCache();
        return builder;
    }

    /// <summary>Security headers on every page, the pages, and the dashboard's static files.</summary>
    public static WebApplication MapDashboard(this WebApplication app)
    {
        app.MapRazorPages();
        Playground.PlaygroundApi.MapPlaygroundApi(app);
        if (app.Services.GetRequiredService<IOptions<DashboardOptions>>().Value.Oidc.Enabled)
        {
            // A plain link starts single sign-on (a form would trip the CSP's form-action on the redirect to the provider).
            app.MapGet(OidcSignIn.StartPath, (string? returnUrl) => Results.Challenge(
                new Microsoft.AspNetCore.Authentication.AuthenticationProperties { RedirectUri = SignInModel.LocalOrNull(returnUrl) ?? "/" },
                [OidcSignIn.Scheme]));
        }

        return app;
    }

    /// <summary>
    /// The browser-facing headers: a Content-Security-Policy that allows only this origin's scripts, styles and
    /// images (no inline script or style), no framing, no sniffing, and <c>no-store</c> on pages (they show private data).
    /// </summary>
    public static WebApplication UseDashboardHeaders(this WebApplication app)
    {
        // The stylesheet, script and icon. Pages link them with ?v=HASH (asp-append-version), so a versioned URL never
        // changes content and is cached for a year; anything else is revalidated.
        app.UseStaticFiles(new StaticFileOptions
        {
            OnPrepareResponse = file => file.Context.Response.Headers.CacheControl =
                file.Context.Request.Query.ContainsKey("v") ? "public, max-age=31536000, immutable" : "no-cache",
        });

        app.Use((context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.OnStarting(static state =>
                {
                    var response = ((HttpContext)state).Response;
                    var headers = response.Headers;
                    headers.ContentSecurityPolicy = response.HttpContext.Request.Path.StartsWithSegments(Http.ApiDocumentation.ReferencePath)
                        ? SecurityHeaders.ReferencePolicy
                        : SecurityHeaders.ContentSecurityPolicy;
                    headers.XContentTypeOptions = "nosniff";
                    headers.XFrameOptions = "DENY";
                    headers["Referrer-Policy"] = "same-origin";
                    headers["Cross-Origin-Opener-Policy"] = "same-origin";
                    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()";
                    if (response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true && !headers.ContainsKey("Cache-Control"))
                    {
                        headers.CacheControl = "no-store";
                    }

                    return Task.CompletedTask;
                }, context);
            }

            return next(context);
        });
        return app;
    }
}

internal static class SecurityHeaders
{
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

    /// <summary>
    /// The API reference at <c>/docs</c> (Scalar) starts with an inline module script and inline styles; it shows no private
    /// data, and still loads nothing from another origin.
    /// </summary>
    public const string ReferencePolicy =
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
}
