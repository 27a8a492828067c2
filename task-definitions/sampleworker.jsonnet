// sampleworker: consumes the tasks queue; /metrics and /health on 9090, no ALB.
local base = import 'lib/base.libsonnet';

local service = 'sampleworker';
local metricsPort = 9090;

// Task-level data per environment; sizes agree with terraform/aws/environments/*.tfvars,
// which also owns the desired count (queue-depth autoscaling moves it).
local settings = base.perEnvironment({
  staging: { cpu: 256, memory: 512, logLevel: 'debug', sendDurationMs: 2000 },
  prod: { cpu: 512, memory: 1024, logLevel: 'info', sendDurationMs: 2000 },
});

local region = base.input('REGION');
local image = base.image();

base.taskDefinition(service, [
  base.container(service, image, {
    portMappings: [base.portMapping(metricsPort, name='metrics')],
    environment: base.envList({
      METRICS_PORT: metricsPort,
      AWS_REGION: region,
      SQS_QUEUE_URL: base.input('SQS_QUEUE_URL'),
      LOG_LEVEL: settings.logLevel,
      OTEL_SERVICE_NAME: service,
      // Labels every metric (`version`) and span (`service.version`).
      SERVICE_VERSION: base.imageVersion(image),
      EMAIL_SEND_DURATION_MS: settings.sendDurationMs,
      // The SLO walkthrough flips this to 'true' in staging only.
      FAIL_SIMULATE_ENABLED: 'false',
      // In-flight sends finish within the stop timeout below.
      SHUTDOWN_TIMEOUT_MS: 100000,
    }),
    // The email provider's credentials (Terraform's sampleworker_secret_arn).
    secrets: [base.secret('EMAIL_PROVIDER_CREDENTIALS', base.input('SAMPLEWORKER_SECRET_ARN'))],
    healthCheck: base.healthCheck(['/usr/local/bin/sampleworker', 'healthcheck', 'http://127.0.0.1:%d/health' % metricsPort]),
    logConfiguration: base.awslogs(base.input('LOG_GROUP'), region, service),
    // A batch of sends may take a while: Fargate's maximum, as in service-sampleworker.tf.
    stopTimeout: 120,
    // A hard limit equal to the task's size: harmless on Fargate (the container
    // could not use more anyway), and the before-deploy task (check-queue, in
    // .github/ferry.yml) needs it under moto, whose RunTask adds up the
    // containers' own `memory` and answers 500 when a container has none.
    memory: settings.memory,
  }),
], {
  cpu: std.toString(settings.cpu),
  memory: std.toString(settings.memory),
})
