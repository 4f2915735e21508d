using System.Net;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Health;

public sealed class HealthTests
{
    [Fact]
    public async Task Healthz_AndReadyz_AnswerWithoutAKey()
    {
        using var factory = new TollgateFactory();
        using var client = factory.Client();

        using var health = await client.GetAsync("/healthz", TestContext.Current.CancellationToken);
        using var ready = await client.GetAsync("/readyz", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("""{"status":"ready"}""", await ready.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Readyz_WhenTheDatabaseCannotBeOpened_Answers503()
    {
        using var factory = new TollgateFactory();
        using var client = factory.Client();

        // Replace the database file with a folder: SQLite can no longer open it. Background work
        // (last-used flushes, checkpoints) may recreate the file between the two steps: try again.
        for (var attempt = 0; !Directory.Exists(factory.DatabasePath); attempt++)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var file in Directory.GetFiles(Path.GetDirectoryName(factory.DatabasePath)!))
            {
                File.Delete(file);
            }

            try
            {
                Directory.CreateDirectory(factory.DatabasePath);
            }
            catch (IOException) when (attempt < 20)
            {
            }
        }

        using var ready = await client.GetAsync("/readyz", TestContext.Current.CancellationToken);
        using var health = await client.GetAsync("/healthz", TestContext.Current.CancellationToken);

        var error = await ready.AssertErrorAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Storage is not reachable", error.GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }
}
