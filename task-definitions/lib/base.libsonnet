// Helpers for ECS Fargate task definitions. `ferry render` evaluates a
// service's file with these ext-strs (the same names in CI and locally):
//
//   SERVICE, ENVIRONMENT, PROJECT, REGION     from .github/ferry.yml
//   IMAGE, or IMAGE_TAG + IMAGE_REPOSITORY    the image to run (ECR_REPOSITORY:
//                                             the old name, still passed)
//   EXECUTION_ROLE_ARN, TASK_ROLE_ARN,        Terraform's outputs, from
//   LOG_GROUP, SQS_QUEUE_URL, ...             task-definitions/environments/<env>.json
//
// A missing one stops the render with an error that names it.
{
  // An ext-str that must be given and not be empty.
  input(name)::
    local v = std.extVar(name);
    assert std.isString(v) && v != '' : 'ext-str %s is empty: pass it with --ext-str %s=VALUE, FERRY_EXT_%s or the environment values file' % [name, name, name];
    v,

  // The image URI: IMAGE, else IMAGE_REPOSITORY:IMAGE_TAG.
  image()::
    local image = std.extVar('IMAGE');
    if image != '' then image else $.input('IMAGE_REPOSITORY') + ':' + $.input('IMAGE_TAG'),

  // The version an image reference names, for SERVICE_VERSION (the services
  // label their metrics with it, so a canary is compared with its baseline):
  // the tag after the last ':' of the last path segment
  // (registry:5000/team/api:1.4.2 -> 1.4.2); for a digest-only reference the
  // short digest (repo@sha256:0123456789abcdef... -> sha256:0123456789ab);
  // with neither, 'latest', as the registry resolves it.
  imageVersion(image)::
    local at = std.findSubstr('@', image);
    local name = if std.length(at) == 0 then image else std.substr(image, 0, at[0]);
    local digest = if std.length(at) == 0 then '' else std.substr(image, at[0] + 1, std.length(image));
    local segments = std.split(name, '/');
    local last = segments[std.length(segments) - 1];
    local colon = std.findSubstr(':', last);
    if std.length(colon) > 0 then std.substr(last, colon[std.length(colon) - 1] + 1, std.length(last))
    else if digest != '' then
      local parts = std.split(digest, ':');
      if std.length(parts) == 2 then parts[0] + ':' + std.substr(parts[1], 0, 12) else std.substr(digest, 0, 12)
    else 'latest',

  environment():: $.input('ENVIRONMENT'),

  // Picks this environment's value from { staging: ..., prod: ... }.
  perEnvironment(values)::
    local env = $.environment();
    assert std.objectHas(values, env) : 'no value for environment %s (have: %s)' % [env, std.join(', ', std.objectFields(values))];
    values[env],

  // `{project}-{env}-{service}`, the family Terraform's services expect.
  family(service):: '%s-%s-%s' % [$.input('PROJECT'), $.environment(), service],

  envVar(name, value):: { name: name, value: std.toString(value) },

  // A Secrets Manager or SSM parameter ARN exposed as an environment variable.
  secret(name, arn):: { name: name, valueFrom: arn },

  portMapping(port, protocol='tcp', name=null)::
    { containerPort: port, hostPort: port, protocol: protocol }
    + (if name == null then {} else { name: name, appProtocol: 'http' }),

  // A container health check; `command` is run with CMD (no shell).
  healthCheck(command, interval=15, timeout=5, retries=3, startPeriod=10):: {
    command: ['CMD'] + command,
    interval: interval,
    timeout: timeout,
    retries: retries,
    startPeriod: startPeriod,
  },

  awslogs(group, region, streamPrefix):: {
    logDriver: 'awslogs',
    options: {
      'awslogs-group': group,
      'awslogs-region': region,
      'awslogs-stream-prefix': streamPrefix,
    },
  },

  ulimit(name, soft, hard=soft):: { name: name, softLimit: soft, hardLimit: hard },

  // A container with the defaults every service wants: essential, read-only
  // root filesystem, a generous file-descriptor limit, 30 s to shut down.
  container(name, image, opts={}):: {
    name: name,
    image: image,
    essential: true,
    readonlyRootFilesystem: true,
    stopTimeout: 30,
    ulimits: [$.ulimit('nofile', 65536)],
    environment: [],
    secrets: [],
    portMappings: [],
  } + opts,

  // `{ KEY: value }` → sorted environment list (ECS keeps no order).
  envList(vars):: [$.envVar(k, vars[k]) for k in std.objectFields(vars)],

  tags(extra={}):: [
    { key: k, value: std.toString(($.defaultTags + extra)[k]) }
    for k in std.objectFields($.defaultTags + extra)
  ],
  defaultTags:: {
    project: $.input('PROJECT'),
    environment: $.environment(),
    'managed-by': 'ferry',
  },

  // A Fargate task definition. `sizing` is { cpu, memory } for the task.
  taskDefinition(name, containers, opts={}):: {
    family: $.family(name),
    requiresCompatibilities: ['FARGATE'],
    networkMode: 'awsvpc',
    runtimePlatform: { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' },
    executionRoleArn: $.input('EXECUTION_ROLE_ARN'),
    taskRoleArn: $.input('TASK_ROLE_ARN'),
    containerDefinitions: containers,
    tags: $.tags(),
  } + opts,
}
