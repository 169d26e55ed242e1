// A worker that consumes "orders" as a member of a GroupedConsumer group. Run it against kiel cluster:
//   kiel cluster --topic orders:6 --zookeeper
//   dotnet run --project samples/Kiel.Samples.Worker -- --Kiel:Consumer:BootstrapServers=<bootstrap> --Kiel:Consumer:ZooKeeperHosts:0=<zookeeper>
// Start it twice to see two members share the partitions; Ctrl-C winds a member down and the other takes over.
using Kiel.Extensions.Hosting;
using Kiel.Samples.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// appsettings.json sits next to the program, wherever it is started from.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddKielGroupedConsumer<OrderPlaced>(builder.Configuration.GetSection("Kiel:Consumer"));
builder.Services.AddHostedService<OrderWorker>();
await builder.Build().RunAsync();
