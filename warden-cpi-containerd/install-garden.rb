# frozen_string_literal: true

# Installs the garden job of a COMPILED garden-runc release the way a BOSH agent would:
# compiled packages under $VCAP_ROOT/packages, the job's templates rendered under
# $VCAP_ROOT/jobs/garden, with property overrides from a YAML file.
#
#   ruby install-garden.rb RELEASE.tgz [PROPERTIES.yml]
#
# Refuses configurations known to break Garden (see README.md in this directory):
# a runtime plugin that is not runc-compatible, containerd mode off, undeclared properties.
# Prints a JSON summary of the effective settings on success.

require 'fileutils'
require 'json'
require 'open3'
require 'tmpdir'
require 'yaml'
require_relative 'template-renderer'

class InstallError < StandardError; end

class GardenInstaller
  JOB = 'garden'

  def initialize(release_path, overrides, vcap_root)
    @release_path = release_path
    @overrides = overrides
    @vcap_root = vcap_root
  end

  def run
    Dir.mktmpdir('install-garden') do |work|
      untar(@release_path, work)
      job_dir = File.join(work, JOB)
      job_archive = File.join(work, 'jobs', "#{JOB}.tgz")
      raise InstallError, "#{@release_path} has no jobs/#{JOB}.tgz: is it a garden-runc release?" unless File.file?(job_archive)

      FileUtils.mkdir_p(job_dir)
      untar(job_archive, job_dir)
      job_spec = YAML.safe_load(File.read(File.join(job_dir, 'job.MF')))
      defaults = (job_spec['properties'] || {}).transform_values { |declaration| (declaration || {})['default'] }

      check_overrides_declared(defaults.keys)
      context = TemplateContext.new(defaults, @overrides)
      check_settings(context)

      # Render everything before writing anything, so a template error leaves nothing half-installed.
      rendered = render_templates(job_dir, job_spec.fetch('templates', {}), context)
      install_packages(work, job_spec.fetch('packages', []))
      write_templates(rendered)
      summary(context, rendered.keys)
    end
  end

  private

  def untar(archive, destination)
    _out, err, status = Open3.capture3('tar', '-xzf', archive, '-C', destination)
    raise InstallError, "cannot unpack #{archive}: #{err.strip}" unless status.success?
  end

  def leaf_paths(tree, prefix = nil)
    tree.flat_map do |key, value|
      path = [prefix, key].compact.join('.')
      value.is_a?(Hash) && !value.empty? ? leaf_paths(value, path) : [path]
    end
  end

  # A BOSH director silently drops properties the job does not declare; here that is an error.
  def check_overrides_declared(declared)
    leaf_paths(@overrides).each do |path|
      next if declared.any? { |name| path == name || path.start_with?("#{name}.") }

      nearest = declared.min_by(3) { |name| distance(name, path) }
      raise InstallError, "property #{path} is not declared by the #{JOB} job, so BOSH would drop it; " \
                          "did you mean #{nearest.join(' / ')}?"
    end
  end

  def check_settings(context)
    runtime = context.p('garden.runtime_plugin').to_s
    if File.basename(runtime).include?('containerd')
      raise InstallError,
            "garden.runtime_plugin=#{runtime} is not a runc-compatible runtime: Garden runs " \
            "'<runtime_plugin> exec', 'events' and 'state' for every process even in containerd mode, " \
            'and containerd rejects those arguments. Leave garden.runtime_plugin unset (the release\'s runc); ' \
            'containerd mode is garden.containerd_mode: true.'
    end
    return if context.p('garden.containerd_mode') == true

    raise InstallError, 'garden.containerd_mode is false: this image runs Garden in containerd mode; ' \
                        'remove the override (the release default is true since garden-runc v1.53.0).'
  end

  def install_packages(work, packages)
    # Every archive is checked before the first is unpacked, so a missing one changes nothing.
    missing = packages.reject { |package| File.file?(File.join(work, 'compiled_packages', "#{package}.tgz")) }
    unless missing.empty?
      raise InstallError, "#{@release_path} has no compiled_packages/#{missing.first}.tgz: use a compiled release " \
                          '(bosh-deployment\'s bosh-lite.yml points at one)'
    end
    packages.each do |package|
      archive = File.join(work, 'compiled_packages', "#{package}.tgz")
      destination = File.join(@vcap_root, 'packages', package)
      FileUtils.mkdir_p(destination)
      untar(archive, destination)
    end
  end

  def render_templates(job_dir, templates, context)
    templates.to_h do |source, target|
      [target, context.render(File.read(File.join(job_dir, 'templates', source)), source)]
    end
  end

  def write_templates(rendered)
    rendered.each do |target, content|
      destination = File.join(@vcap_root, 'jobs', JOB, target)
      FileUtils.mkdir_p(File.dirname(destination))
      File.write(destination, content)
      File.chmod(0o755, destination) if target.start_with?('bin/')
    end
  end

  def summary(context, rendered)
    image_plugin = context.p('garden.image_plugin', nil)
    {
      'job' => JOB,
      'vcap_root' => @vcap_root,
      'containerd_mode' => context.p('garden.containerd_mode'),
      'runtime_plugin' => context.p('garden.runtime_plugin'),
      'image_plugin' => image_plugin || 'grootfs (release default: XFS store on a loop device)',
      'no_image_plugin' => context.p('garden.no_image_plugin', false),
      'listen' => "#{context.p('garden.listen_network')}:#{context.p('garden.listen_address')}",
      'rendered' => rendered
    }
  end

  def distance(left, right)
    rows = Array.new(left.size + 1) { |i| [i] + [0] * right.size }
    (0..right.size).each { |j| rows[0][j] = j }
    (1..left.size).each do |i|
      (1..right.size).each do |j|
        cost = left[i - 1] == right[j - 1] ? 0 : 1
        rows[i][j] = [rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost].min
      end
    end
    rows[left.size][right.size]
  end
end

def main(argv)
  release, properties_file = argv
  unless release && File.file?(release)
    warn "usage: install-garden.rb RELEASE.tgz [PROPERTIES.yml]\ninstall-garden: no release tarball at #{release.inspect}"
    return 2
  end
  overrides = properties_file ? YAML.safe_load(File.read(properties_file)) || {} : {}
  raise InstallError, "#{properties_file} must hold a map of properties (garden: {...})" unless overrides.is_a?(Hash)

  vcap_root = ENV.fetch('VCAP_ROOT', '/var/vcap')
  puts JSON.pretty_generate(GardenInstaller.new(release, overrides, vcap_root).run)
  0
rescue InstallError, Psych::SyntaxError, RuntimeError => e
  warn "install-garden: #{e.message}"
  1
end

exit(main(ARGV)) if $PROGRAM_NAME == __FILE__
