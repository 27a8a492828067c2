// sampleapi: the HTTP API behind the ALB (/api/*, /health, /ready), port 8080.
local base = import 'lib/base.libsonnet';

local service = 'sampleapi';
local port = 8080;

// Task-level data per environment; sizes agree with terraform/aws/environments/*.tfvars,
// which also owns the desired count (autoscaling moves it, a deploy must not).
local settings = base.perEnvironment({
  staging: { cpu: 256, memory: 512, logLevel: 'debug' },
  prod: { cpu: 512, memory: 1024, logLevel: 'info' },
});

local region = base.input('REGION');
local image = base.image();

base.taskDefinition(service, [
  base.container(service, image, {
    portMappings: [base.portMapping(port, name='http')],
    environment: base.envList({
      PORT: port,
      AWS_REGION: region,
      SQS_QUEUE_URL: base.input('SQS_QUEUE_URL'),
      LOG_LEVEL: settings.logLevel,
      OTEL_SERVICE_NAME: service,
      // Labels every metric (`version`) and span (`service.version`).
      SERVICE_VERSION: base.imageVersion(image),
    }),
    healthCheck: base.healthCheck(['/usr/local/bin/sampleapi', 'healthcheck', 'http://127.0.0.1:%d/health' % port]),
    logConfiguration: base.awslogs(base.input('LOG_GROUP'), region, service),
  }),
], {
  cpu: std.toString(settings.cpu),
  memory: std.toString(settings.memory),
})
