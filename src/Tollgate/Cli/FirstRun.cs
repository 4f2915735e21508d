using Tollgate.Dashboard;

namespace Tollgate.Cli;

/// <summary>On a start with no accounts, says how to create the owner: the one-time link, and the command line.</summary>
internal static class FirstRun
{
    public static void PrintWelcome(WebApplication app) => _ = Task.Run(() =>
        app.Services.GetRequiredService<FirstRunLink>().PrintAsync(app.Lifetime.ApplicationStopping));
}
