# lambda-steps bundled Ruby runtime: speaks the Lambda Runtime API (2018-06-01) for one
# execution environment; handlers take `event:, context:` as AWS's Ruby runtime calls them,
# and errors are reported as `Function<ErrorClass>` / `Init<ErrorClass>` as it reports them.

require 'json'
require 'net/http'

$stdout.sync = true
$stderr.sync = true

class RuntimeApi
  PREFIX = '/2018-06-01/runtime'

  def initialize(address)
    host, port = address.split(':')
    @http = Net::HTTP.new(host, port.to_i)
    @http.read_timeout = nil
    @http.keep_alive_timeout = 3600
    @http.start
  end

  def get(path)
    @http.request(Net::HTTP::Get.new(PREFIX + path))
  end

  def post(path, body, headers = {})
    request = Net::HTTP::Post.new(PREFIX + path, { 'Content-Type' => 'application/json' }.merge(headers))
    request.body = body
    @http.request(request)
  end
end

class LambdaContext
  attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name,
              :function_name, :memory_limit_in_mb, :function_version, :identity,
              :client_context, :deadline_ms

  def initialize(headers)
    @aws_request_id = headers['lambda-runtime-aws-request-id']
    @invoked_function_arn = headers['lambda-runtime-invoked-function-arn']
    @deadline_ms = headers['lambda-runtime-deadline-ms'].to_i
    context = headers['lambda-runtime-client-context']
    @client_context = context ? JSON.parse(context) : nil
    @identity = nil
    @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
    @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
    @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
    @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
    @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
  end

  def get_remaining_time_in_millis
    [@deadline_ms - (Time.now.to_f * 1000).to_i, 0].max
  end
end

def error_document(error, kind)
  {
    'errorMessage' => error.message,
    'errorType' => "#{kind}<#{error.class}>",
    'stackTrace' => error.backtrace || []
  }
end

# `file.method` calls a top-level method; `file.Module::Class.method` a class method.
def load_handler(spec)
  file, target = spec.split('.', 2)
  raise ArgumentError, "Invalid handler #{spec}, must be of form FILENAME.METHOD or FILENAME.CLASS.METHOD" if target.nil? || file.empty?

  require File.join(ENV['LAMBDA_TASK_ROOT'], file)
  receiver_name, _, method_name = target.rpartition('.')
  receiver = receiver_name.empty? ? Object.new : Object.const_get(receiver_name)
  [receiver, method_name.to_sym]
end

api = RuntimeApi.new(ENV['AWS_LAMBDA_RUNTIME_API'])
$LOAD_PATH.unshift(ENV['LAMBDA_TASK_ROOT'])
# As Lambda's GEM_PATH does: the function's bundled gems (`vendor/bundle`, where `packages`
# puts them) come before the runtime's own; under the runtime's version (`ruby3.3`: 3.3.0),
# or this host Ruby's where the engine installed them for it.
versions = [ENV.fetch('AWS_EXECUTION_ENV', '')[/ruby(\d+\.\d+)/, 1]&.then { |v| "#{v}.0" }, RbConfig::CONFIG['ruby_version']]
bundled = versions.compact.uniq.map { |v| File.join(ENV['LAMBDA_TASK_ROOT'], 'vendor', 'bundle', 'ruby', v) }.select { |d| Dir.exist?(d) }
Gem.paths = { 'GEM_PATH' => (bundled + Gem.path).join(File::PATH_SEPARATOR) } unless bundled.empty?

begin
  receiver, method_name = load_handler(ENV['_HANDLER'])
rescue StandardError, ScriptError => e
  doc = error_document(e, 'Init')
  puts "Init error when loading handler #{ENV['_HANDLER']}"
  puts JSON.generate(doc)
  api.post('/init/error', JSON.generate(doc), 'Lambda-Runtime-Function-Error-Type' => doc['errorType'])
  exit 1
end

loop do
  response = api.get('/invocation/next')
  exit 0 unless response.code == '200'
  headers = response.each_header.to_h
  request_id = headers['lambda-runtime-aws-request-id']
  ENV['_X_AMZN_TRACE_ID'] = headers['lambda-runtime-trace-id'] || ''
  begin
    event = response.body.nil? || response.body.empty? ? {} : JSON.parse(response.body)
    result = receiver.send(method_name, event: event, context: LambdaContext.new(headers))
    api.post("/invocation/#{request_id}/response", JSON.generate(result))
  rescue StandardError, ScriptError => e
    doc = error_document(e, 'Function')
    puts 'Error raised from handler method'
    puts JSON.generate(doc)
    api.post("/invocation/#{request_id}/error", JSON.generate(doc), 'Lambda-Runtime-Function-Error-Type' => doc['errorType'])
  end
end
